"""What the posterior predictive check shows: a terminal table and an offline HTML page."""

from __future__ import annotations

import html

import plotly.graph_objects as go
from rich.table import Table

from sim import page
from sim.predictive import Band, PredictiveCheck

REPORT_FILE = "predictive.html"
_NOTE = (
    "Each replay draws the free parameters from the posterior (as <code>calibrated.yaml</code> "
    "holds them) and runs the pilot's days. Shaded: the replays' 5th to 95th percentile each "
    "day; line: their median; dots: the pilot. A model that fits leaves about one day in ten "
    "outside the band, and the pilot's total inside the band of totals."
)


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:,.3g}"


def _verdict(band: Band) -> str:
    return "fits" if band.total_inside else "OUTSIDE the band"


def predictive_table(check: PredictiveCheck) -> Table:
    """Per step and observed column: the pilot's total, the replays' band, days inside."""
    table = Table(
        title=f"Posterior predictive check — {check.replications} replays of the pilot",
        caption="total: over the pilot's days; band: the replays' median [5th, 95th percentile]; "
        "days inside: observed days within that day's band (about 9 in 10 expected)",
        title_justify="left",
        caption_justify="left",
    )
    for head in ("step", "column", "pilot total", "replays [90%]", "days inside", ""):
        table.add_column(head, justify="left" if head in ("step", "column", "") else "right")
    for b in check.bands:
        lo, mid, hi = b.total_band
        table.add_row(
            b.step,
            b.column,
            _number(b.total),
            f"{_number(mid)} [{_number(lo)}, {_number(hi)}]",
            f"{b.days_inside}/{b.days_observed}",
            _verdict(b),
        )
    return table


def predictive_page(check: PredictiveCheck) -> str:
    """The whole page: a summary table, then one chart per step and column."""
    rows = [
        (
            b.step,
            b.column,
            _number(b.total),
            f"{_number(b.total_band[1])} [{_number(b.total_band[0])}, {_number(b.total_band[2])}]",
            f"{b.days_inside} of {b.days_observed}",
            _verdict(b),
        )
        for b in check.bands
    ]
    summary = page.table(
        ["step", "column", "pilot total", "replays [90%]", "days inside", "verdict"],
        rows,
        names=2,
    )
    misfit = ", ".join(f"{b.step} {b.column}" for b in check.misfits)
    lead = (
        f"<p class='warn'>Outside the band: {html.escape(misfit)}.</p>"
        if misfit
        else "<p class='sub'>Every observed total lies within the replays' 90% band.</p>"
    )
    body = page.section("summary", "Observed against replayed", _NOTE, lead + summary) + "".join(
        page.section(
            f"step-{i}",
            f"{b.step}: {b.column}",
            f"{b.days_inside} of {b.days_observed} observed days inside the band.",
            page.chart(f"ppc-{i}", _figure(b)),
        )
        for i, b in enumerate(check.bands)
    )
    return page.shell(f"Posterior predictive check — {check.scenario}", body)


def _figure(b: Band) -> go.Figure:
    days = list(b.days)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=days, y=list(b.hi), mode="lines", line={"width": 0}, showlegend=False)
    )
    fig.add_trace(
        go.Scatter(
            x=days,
            y=list(b.lo),
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(33,113,181,0.25)",
            name="replays, 90% band",
        )
    )
    fig.add_trace(
        go.Scatter(x=days, y=list(b.mid), mode="lines", line={"color": "#2171b5"}, name="median")
    )
    fig.add_trace(
        go.Scatter(
            x=days, y=list(b.observed), mode="markers", marker={"color": "#222"}, name="pilot"
        )
    )
    fig.update_layout(
        height=300,
        margin={"l": 50, "r": 20, "t": 20, "b": 40},
        xaxis_title="day",
        yaxis_title=b.column,
        showlegend=True,
    )
    return fig
