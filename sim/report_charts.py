"""The run report's charts, as Plotly figures (the same library as the optimizer's plots).

Each function takes figures already summarized over replications — a mean and a 90%
interval, ``{"mean", "lo", "hi"}`` as :func:`sim.metrics.describe` gives them — and draws
the mean with the interval as an error bar or a band.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim.page import Fig, interval_bar

Groups = Mapping[str, Mapping[str, Fig]]  # name (step, channel, segment) -> measure -> figure

_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 30, "t": 40, "b": 50},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    "font": {"family": "system-ui, sans-serif", "size": 13},
}


def funnel_chart(steps: Groups, labels: Mapping[str, str]) -> go.Figure:
    """Reached and converted per step (horizontal bars, the funnel read top to bottom).

    Args:
        steps: step id -> ``{"reached", "converted"}`` figures, in funnel order.
        labels: step id -> the axis label (the id and the rate from the step before).
    """
    ids = list(steps)
    fig = go.Figure()
    for measure, color in (("reached", "#9ecae1"), ("converted", "#2171b5")):
        bar = interval_bar(
            measure,
            [labels[i] for i in ids],
            [steps[i][measure] for i in ids],
            horizontal=True,
            marker_color=color,
            text=[_count(steps[i][measure]["mean"]) for i in ids],
            textposition="auto",
            insidetextanchor="middle",
            textangle=0,
            cliponaxis=False,
            hovertemplate="%{y}<br>" + measure + " %{x:,.1f}<extra></extra>",
        )
        fig.add_trace(bar)
    fig.update_layout(
        _LAYOUT,
        barmode="group",
        height=120 + 70 * len(ids),
        xaxis_title="visitors, log scale (mean over replications; bars: 90% interval)",
    )
    # a log axis: a late step with 1% of the visitors is a bar one sees, not a sliver
    fig.update_xaxes(type="log")
    fig.update_yaxes(autorange="reversed")
    return fig


def _count(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


def cash_chart(
    days: Sequence[int],
    band: Mapping[str, Sequence[float]],
    payback: Fig,
    currency_sign: str,
) -> go.Figure:
    """Cumulative cash by day: the mean, the 5th–95th percentile band, the payback day.

    Args:
        days: the days of the horizon.
        band: ``{"mean", "lo", "hi"}``, one value per day, over replications.
        payback: the payback-day KPI (mean and interval; mean None if not always reached).
        currency_sign: written before amounts on the axis.
    """
    fig = go.Figure()
    grey = {"width": 0}
    fig.add_trace(go.Scatter(x=days, y=band["hi"], line=grey, showlegend=False, hoverinfo="skip"))
    fig.add_trace(
        go.Scatter(
            x=days,
            y=band["lo"],
            line=grey,
            fill="tonexty",
            fillcolor="rgba(33,113,181,0.18)",
            name="90% of replications",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=days,
            y=band["mean"],
            line={"color": "#2171b5", "width": 2.5},
            name="mean",
            hovertemplate="day %{x}<br>%{y:,.0f}<extra>mean</extra>",
        )
    )
    fig.add_hline(y=0, line={"color": "#555", "width": 1})
    _mark_payback(fig, payback)
    fig.update_layout(_LAYOUT, height=420, xaxis_title="day", yaxis_title="cumulative cash")
    fig.update_yaxes(tickprefix=currency_sign, tickformat=",.0f")
    return fig


def _mark_payback(fig: go.Figure, payback: Fig) -> None:
    """A line at the mean payback day, its interval shaded; or a note that it is not sure."""
    mean, lo, hi = payback["mean"], payback["lo"], payback["hi"]
    if lo is not None and hi is not None and hi > lo:
        fig.add_vrect(x0=lo, x1=hi, fillcolor="rgba(35,139,69,0.12)", line_width=0)
    if mean is not None:
        fig.add_vline(x=mean, line={"color": "#238b45", "width": 2, "dash": "dash"})
        text = f"payback day {mean:.0f}"
        if lo is not None and hi is not None and hi > lo:
            text += f" (90%: {lo:.0f}–{hi:.0f})"
        fig.add_annotation(x=mean, y=1, yref="paper", text=text, showarrow=False, xanchor="left")
    else:
        text = "payback: not in every replication" if lo is not None else "payback: never"
        fig.add_annotation(
            x=0.01, y=0.98, xref="paper", yref="paper", text=text, showarrow=False, xanchor="left"
        )


def money_chart(groups: Groups, measures: Mapping[str, str], currency_sign: str) -> go.Figure:
    """Grouped bars of money figures per offer or channel, with their 90% intervals.

    Args:
        groups: name -> measure -> figure, in the order to show.
        measures: measure -> its legend label, in the order to show.
        currency_sign: written before amounts on the axis.
    """
    names = list(groups)
    fig = go.Figure(
        [
            interval_bar(
                label, names, [groups[n][m] for n in names], hovertemplate=_money_hover(label)
            )
            for m, label in measures.items()
        ]
    )
    fig.update_layout(_LAYOUT, barmode="group", height=400)
    fig.update_yaxes(tickprefix=currency_sign, tickformat=",.0f")
    return fig


def _money_hover(label: str) -> str:
    return "%{x}<br>" + label + " %{y:,.2f}<extra></extra>"


FEW_SUBSCRIBERS = 10.0  # mean subscribers per replication below which a churn share is noise


def _few_subscribers(segment: Mapping[str, Fig]) -> Fig:
    """The churn share, without its interval when it comes from too few subscribers.

    Out of a handful of subscribers a replication's churn share is 0%, 50% or 100%, so the
    whisker spans most of 0–100% and says only that there were few: it is left out (the
    segments table shows the count).
    """
    subscribers = segment.get("subscribers", {}).get("mean")
    churn = segment["churn"]
    if subscribers is not None and subscribers < FEW_SUBSCRIBERS:
        return {"mean": churn["mean"], "lo": None, "hi": None}
    return churn


def _churn_text(segment: Mapping[str, Fig]) -> str:
    """The churn share on its bar, saying how few subscribers it comes from when few."""
    mean, subscribers = segment["churn"]["mean"], segment.get("subscribers", {}).get("mean")
    if mean is None:
        return ""
    if subscribers is not None and subscribers < FEW_SUBSCRIBERS:
        return f"{mean:.1%}<br>of {subscribers:.1f} subscribers"
    return f"{mean:.1%}"


def segments_chart(segments: Groups, currency_sign: str) -> go.Figure:
    """Who converts, who pays, who churns: four panels, one bar group per segment.

    Args:
        segments: segment -> ``cr1``, ``cr2`` (shares), ``revenue_per_visitor``,
            ``profit_per_buyer`` (money), ``churn`` (share of subscribers who left), and
            ``subscribers`` (count: a churn share of fewer than :data:`FEW_SUBSCRIBERS`
            has no interval drawn).
        currency_sign: written before amounts.
    """
    names = list(segments)
    titles = ("who converts", "who pays: per visitor", "who pays: per buyer", "who churns")
    fig = make_subplots(rows=1, cols=4, subplot_titles=titles, horizontal_spacing=0.07)
    money = {"tickprefix": currency_sign, "tickformat": ",.0f"}
    panels: tuple[tuple[dict[str, str], *tuple[tuple[str, str], ...]], ...] = (
        ({"tickformat": ".0%"}, ("cr1", "leads / visitors"), ("cr2", "buyers / leads")),
        (money, ("revenue_per_visitor", "revenue / visitor")),
        (money, ("profit_per_buyer", "gross profit / buyer")),
        ({"tickformat": ".0%", "rangemode": "tozero"}, ("churn", "churned / subscribers")),
    )
    colors = iter(("#6baed6", "#2171b5", "#74c476", "#238b45", "#fb6a4a"))
    for col, (axis, *measures) in enumerate(panels, start=1):
        shown = ".1%" if "%" in str(axis["tickformat"]) else ",.2f"
        prefix = "" if "%" in shown else currency_sign
        for key, label in measures:
            figs = [segments[n][key] for n in names]
            text: dict[str, object] = {"texttemplate": prefix + "%{y:" + shown + "}"}
            if key == "churn":  # from few subscribers: no whisker, and the count said
                figs = [_few_subscribers(segments[n]) for n in names]
                text = {
                    "text": [_churn_text(segments[n]) for n in names],
                    "texttemplate": "%{text}",
                }
            bar = interval_bar(
                label,
                names,
                figs,
                horizontal=False,
                marker_color=next(colors),
                **text,
                textposition="auto",
                textangle=0,
                insidetextanchor="middle",
            )
            fig.add_trace(bar, row=1, col=col)
        fig.update_yaxes(axis, row=1, col=col)
    if all(segments[n]["churn"]["mean"] is None for n in names):
        fig.add_annotation(
            text="no subscribers", showarrow=False, xref="x4 domain", yref="y4 domain", x=0.5, y=0.5
        )
        fig.update_yaxes(showticklabels=False, row=1, col=4)
    fig.update_layout(_LAYOUT, barmode="group", height=420)
    fig.update_layout(legend={"y": -0.25, "yanchor": "top"}, margin={"t": 60})
    return fig


def layers_chart(days: Sequence[int], leads: Mapping[str, Sequence[float]]) -> go.Figure:
    """Leads in each engagement layer at the end of each day (means over replications).

    Args:
        days: the days of the horizon.
        leads: layer name → the mean leads in it, one value per day, in the layers' order.
    """
    fig = go.Figure()
    for name, series in leads.items():
        fig.add_trace(
            go.Scatter(
                x=days,
                y=list(series),
                name=name,
                mode="lines",
                hovertemplate=f"day %{{x}}<br>%{{y:,.0f}} leads<extra>{name}</extra>",
            )
        )
    fig.update_layout(_LAYOUT, height=380, xaxis_title="day", yaxis_title="leads in the layer")
    return fig
