"""What an objective or a constraint measures over replications: a mean, or a quantile.

``sim optimize`` judges a design by a *measure* of a figure over its replications (and,
with uncertain quantities, over the assumption draws they carry):

- ``profit``: the mean of a KPI (every optimizable KPI of :data:`sim.kpis.KPIS`);
- ``profit@p10``: its 10th percentile, the profit that 90% of replications reach or beat
  (any percentile strictly between 0 and 100, e.g. ``@p2.5``);
- ``cash_needed``: minus ``cash_low``, the money put in before the funnel pays for itself,
  so ``cash_needed@p90`` is the cash that suffices with 90% confidence.

A percentile interpolates linearly between order statistics (NumPy's default), as the 90%
bands of ``sim run`` do: ``profit@p5`` is the ``lo`` of profit's band on the same
replications.

Examples:
    >>> m = parse("cash_needed@p90")
    >>> m.kpi, m.sign, m.percentile, m.label
    ('cash_low', -1.0, 90.0, '90th percentile of cash needed')
    >>> parse("profit@p10").of([0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0])
    10.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim._checks import near
from sim.kpis import KPIS, optimizable

# figures of measures only (not KPIs of a run): name -> (the KPI it is made of, its sign)
DERIVED = {"cash_needed": ("cash_low", -1.0)}
_LABELS = {"cash_needed": "cash needed"}
_QUANTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")
_NEVER = 1e300  # infinity (payback never reached) as a finite stand-in while interpolating


class MeasureError(ValueError):
    """A measure that cannot be read; ``hint`` says what would be."""

    def __init__(self, message: str, hint: str = "") -> None:
        """Args: what is wrong, and what to write instead."""
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass(frozen=True)
class Measure:
    """A figure's mean or percentile over replications, as an objective names it."""

    text: str  # as written: ``profit@p10``
    figure: str  # ``profit``, ``cash_needed``
    kpi: str  # the KPI whose per-replication values it reads
    sign: float  # -1 for a figure that is minus its KPI
    percentile: float | None  # None: the mean

    @property
    def label(self) -> str:
        """How pages and tables name it: ``10th percentile of profit``, ``profit``."""
        name = _LABELS.get(self.figure, KPIS[self.kpi].label if self.sign > 0 else self.figure)
        if self.percentile is None:
            return name
        return f"{_ordinal(self.percentile)} percentile of {name}"

    @property
    def plain(self) -> bool:
        """Whether it is a KPI's mean, as the KPI tables show it."""
        return self.percentile is None and self.figure == self.kpi

    def values(self, kpi_values: Sequence[float] | np.ndarray) -> np.ndarray:
        """The figure per replication, from its KPI's values (NaN, an undefined KPI, left out)."""
        v = self.sign * np.asarray(kpi_values, dtype=float)
        return v[~np.isnan(v)]

    def of(self, kpi_values: Sequence[float] | np.ndarray) -> float:
        """The measure over replications, from its KPI's values; NaN if none is defined."""
        v = self.values(kpi_values)
        if v.size == 0:
            return math.nan
        if self.percentile is None:
            return float(v.mean())  # infinity kept: payback never reached
        return quantile(v, self.percentile / 100)


def quantile(values: np.ndarray, q: float) -> float:
    """A quantile with infinities kept (interpolation between order statistics)."""
    x = float(np.quantile(np.clip(values, -_NEVER, _NEVER), q))
    return math.copysign(math.inf, x) if abs(x) > _NEVER / 2 else x


def _ordinal(p: float) -> str:
    text = f"{p:g}"
    if not float(p).is_integer():
        return f"{text}th"
    n = int(p)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def described(texts: list[str]) -> dict[str, str]:
    """Each measure that is not a plain KPI mean, by its label (``{"profit@p10": "10th …"}``).

    Texts that are not measures are left out (they were refused when the scenario loaded).
    """
    out = {}
    for text in texts:
        try:
            measure = parse(text)
        except MeasureError:
            continue
        if not measure.plain:
            out[text] = measure.label
    return out


def known() -> list[str]:
    """The figures a measure may name: optimizable KPIs, then the derived ones."""
    return [*optimizable(), *DERIVED]


def parse(text: str) -> Measure:
    """Read ``FIGURE`` or ``FIGURE@pNN``.

    Raises:
        MeasureError: an unknown figure, or a percentile not written ``@pNN`` with
            ``0 < NN < 100``.
    """
    figure, at, stat = text.partition("@")
    figure = figure.strip()
    if figure not in known():
        raise MeasureError(f"unknown KPI '{figure}'", _near(figure))
    kpi, sign = DERIVED.get(figure, (figure, 1.0))
    if not at:
        return Measure(text, figure, kpi, sign, None)
    found = _QUANTILE.match(stat.strip())
    p = float(found.group(1)) if found else math.nan
    if not 0 < p < 100:
        raise MeasureError(
            f"'{text}': after @ write a percentile as pNN with 0 < NN < 100",
            f"e.g. {figure}@p10 (the 10th percentile over replications)",
        )
    return Measure(text, figure, kpi, sign, p)


def _near(name: str) -> str:
    return near(name, known())
