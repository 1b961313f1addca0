"""``sim studio``: a local web page where a class moves a price and watches the funnel answer.

Built on Dash (an optional extra: ``pip install -e ".[studio]"``), which draws the run
report's Plotly figures as they are and serves its scripts from the installed packages,
so the page works with no network. Every call into the simulation goes through
``sim.studio.engine``.

Examples:
    >>> from sim.studio import create_app, make_server
    >>> server = make_server(create_app("scenarios/pastry_school.yaml"), port=0)
    >>> server.server_address[0]
    '127.0.0.1'
    >>> server.server_close()
"""

from __future__ import annotations

from sim.studio.app import create_app
from sim.studio.serve import make_server

__all__ = ["create_app", "make_server"]
