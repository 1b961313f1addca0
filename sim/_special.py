"""The functions of ``scipy.special`` the model uses, imported on their first call.

``scipy.special`` takes about as long to import as numpy. Reading and checking a scenario
imports the modules that use these functions but calls none of them, so the import waits
for the first call; after it, each call goes straight to scipy's own function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scipy.special import betaincinv, gammaincinv, hyp2f1, ndtr, ndtri, pdtr
else:
    from collections.abc import Callable
    from typing import Any

    def _on_first_call(name: str) -> Callable[..., Any]:
        """A stand-in for ``scipy.special.<name>`` that imports scipy when first called."""
        found: list[Callable[..., Any]] = []

        def call(*args: Any, **kwargs: Any) -> Any:
            if not found:
                import scipy.special

                found.append(getattr(scipy.special, name))
            return found[0](*args, **kwargs)

        call.__name__ = call.__qualname__ = name
        call.__doc__ = f"``scipy.special.{name}``, imported on the first call."
        return call

    betaincinv = _on_first_call("betaincinv")
    gammaincinv = _on_first_call("gammaincinv")
    hyp2f1 = _on_first_call("hyp2f1")
    ndtr = _on_first_call("ndtr")
    ndtri = _on_first_call("ndtri")
    pdtr = _on_first_call("pdtr")

__all__ = ["betaincinv", "gammaincinv", "hyp2f1", "ndtr", "ndtri", "pdtr"]
