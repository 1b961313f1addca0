"""The page: a column of controls on the left, what the funnel answers on the right.

Only Dash components are built here; what they show comes from ``app.py``'s callbacks.
Labels use the scenario's own words (its step, channel and segment names).
"""

from __future__ import annotations

import math
from typing import Any

from dash import dcc, html

from sim.studio.engine import Control

GRAPH_CONFIG: dcc.Graph.Config = {"displaylogo": False}


def page(title: str, subtitle: str, lesson: str, variants: list[str]) -> html.Div:
    """The whole page."""
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            dcc.Store(id="state"),
            dcc.Store(id="pinned"),
            dcc.Download(id="download"),
            html.Header(
                [
                    html.H1(title),
                    html.P(subtitle, className="subtitle"),
                    html.P(lesson, className="lesson") if lesson else None,
                ]
            ),
            html.Div([_sidebar(variants), _main()], className="columns"),
        ],
        className="studio",
    )


def _sidebar(variants: list[str]) -> html.Aside:
    return html.Aside(
        [
            _card(
                "Design",
                [
                    _variant(variants),
                    html.Div(id="controls"),
                    html.Div(
                        [
                            dcc.Input(
                                id="new-path",
                                type="text",
                                placeholder="another number, e.g. funnel.core_course.take",
                                debounce=True,
                            ),
                            html.Button("Add", id="add", className="secondary"),
                        ],
                        className="add-row",
                    ),
                    html.Div(id="add-error", className="error"),
                    html.Div(id="error", className="error"),
                ],
            ),
            _card(
                "Simulation",
                [
                    _field("replications", dcc.Input(id="n", type="number", min=2, max=500)),
                    _field("seed", dcc.Input(id="seed", type="number", min=0)),
                    html.P(id="timing", className="hint"),
                ],
            ),
            _card(
                "A against B",
                [
                    html.P(
                        "Pin the design as A, change something: B − A is measured on the same "
                        "simulated people.",
                        className="hint",
                    ),
                    html.Div(
                        [
                            html.Button("Pin as A", id="pin"),
                            html.Button("Unpin", id="unpin", className="secondary"),
                        ],
                        className="buttons",
                    ),
                    html.P(id="pinned-note", className="hint"),
                ],
            ),
            _card(
                "Save and share",
                [
                    html.A("link to these settings", id="share", href="", className="share"),
                    html.Div(
                        [
                            html.Button("Download exercise", id="save", className="secondary"),
                            dcc.Upload(
                                html.Button("Open exercise", className="secondary"),
                                id="upload",
                                accept=".json,application/json",
                            ),
                        ],
                        className="buttons",
                    ),
                    html.Div(id="upload-error", className="error"),
                ],
            ),
        ],
        className="sidebar",
    )


def _variant(variants: list[str]) -> html.Div:
    options = [{"label": v, "value": v} for v in variants]
    hidden = {} if len(variants) > 1 else {"display": "none"}
    return html.Div(
        [
            html.Label("funnel design (variant)", htmlFor="variant"),
            dcc.Dropdown(id="variant", options=options, value=variants[0], clearable=False),
        ],
        className="control",
        style=hidden,
    )


def _main() -> html.Main:
    return html.Main(
        [
            html.Div(id="cards", className="cards"),
            html.Div(
                [
                    _panel("The funnel", "Reached and converted per step", "funnel"),
                    _panel("Cumulative cash", "Mean, 90% band and break-even day", "cash"),
                ],
                className="charts",
            ),
            html.Div(id="ab", className="panel ab"),
            html.Section(
                [
                    html.H2("One visitor's story"),
                    html.Div(
                        [
                            html.Div(dcc.Dropdown(id="who", clearable=False), className="who"),
                            html.Div(
                                dcc.Input(
                                    id="visitor",
                                    type="number",
                                    min=0,
                                    placeholder="or visitor #",
                                    debounce=True,
                                ),
                                className="visitor-id",
                            ),
                        ],
                        className="story-row",
                    ),
                    html.P(id="story-note", className="hint"),
                    html.Pre(id="story", className="story"),
                ],
                className="panel",
            ),
            html.Section(
                [html.H2("Economics"), html.Div(id="economics")],
                className="panel",
            ),
        ]
    )


def _panel(title: str, note: str, graph: str) -> html.Section:
    return html.Section(
        [
            html.H2(title),
            html.P(note, className="hint"),
            dcc.Graph(id=graph, config=GRAPH_CONFIG),
        ],
        className="panel",
    )


def _card(title: str, children: list[Any]) -> html.Section:
    return html.Section([html.H2(title), *children], className="card")


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label), control], className="field")


def control(spec: Control, value: str) -> html.Div:
    """One number: its name in the scenario's words, a slider and the exact value."""
    parts = spec.path.split(".")
    name = " · ".join(parts[1:]) if len(parts) > 1 else parts[0]  # the scenario's own names
    low, high, step = _range(spec, value)
    number = parse_number(value)
    return html.Div(
        [
            html.Label(name, title=spec.path),
            html.Div(
                [
                    dcc.Slider(
                        id={"kind": "slider", "path": spec.path},
                        min=low,
                        max=high,
                        step=step,
                        value=number if number is not None else low,
                        marks=None,
                        updatemode="mouseup",
                        allow_direct_input=False,  # the text box beside it takes any value
                        className="slider",
                        disabled=not math.isfinite(high - low) or bool(spec.choices),
                    ),
                    dcc.Input(
                        id={"kind": "setting", "path": spec.path},
                        type="text",
                        value=value,
                        debounce=True,
                        placeholder="as in the file",
                        className="value",
                    ),
                ],
                className="control-row",
            ),
            html.Div(spec.path, className="path"),
        ],
        className="control",
    )


def parse_number(text: str) -> float | None:
    """A finite number typed in a box, or None when the text is not one."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _range(spec: Control, value: str) -> tuple[float, float, float]:
    """The slider's range: the search range, else one guessed from the value."""
    if spec.low is not None and spec.high is not None:
        step = spec.step or _nice_step(spec.high - spec.low)
        return spec.low, spec.high, step
    number = parse_number(value)
    if number is None:
        return 0.0, 1.0, 0.01
    if 0 <= number <= 1 and not float(number).is_integer():
        return 0.0, 1.0, 0.01
    high = max(2 * abs(number), 1.0)
    return 0.0, high, _nice_step(high)


def _nice_step(width: float) -> float:
    """A round step giving about a hundred positions over ``width``."""
    if width <= 0:
        return 1.0
    return float(10 ** math.floor(math.log10(width / 100)))
