"""The page kit: the shell, sections, tables, cards and charts of every HTML page.

The run report (:mod:`sim.html_report`), the comparison page (:mod:`sim.compare_report`)
and the optimizer's page (:mod:`optimize.report`) are built from these parts, so they
look alike and each is one self-contained file: plotly.js is embedded once, in the head,
and the page opens offline. Every text a user wrote (names, labels, table cells) is
escaped here; a section's note is HTML the page itself writes.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import plotly
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from sim.report import fmt

Fig = Mapping[str, float | None]  # a figure over replications: {"mean", "lo", "hi"}
Cell = str | tuple[str, str]  # text, or a mean and its interval

_CONFIG = {"displaylogo": False, "responsive": True}


def shell(title: str, body: str) -> str:
    """A whole page: the head (styles, plotly.js), the title as heading, then ``body``.

    Examples:
        >>> text = shell("A <b> test", "<p>hi</p>")
        >>> text.startswith("<!doctype html>"), "<h1>A &lt;b&gt; test</h1><p>hi</p>" in text
        (True, True)
    """
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script>/* plotly.js {plotly.__version__}, embedded */{get_plotlyjs()}</script>"
        f"</head><body><main><h1>{html.escape(title)}</h1>" + body + "</main></body></html>\n"
    )


def section(key: str, title: str, note: str, body: str) -> str:
    """A titled part of the page, with a note (HTML) under the title."""
    return (
        f"<section id='{key}'><h2>{html.escape(title)}</h2>"
        f"<p class='note'>{note}</p>{body}</section>"
    )


def chart(key: str, fig: go.Figure) -> str:
    """One chart's div and drawing script; a fixed id keeps the page's bytes stable."""
    div = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=f"chart-{key}", config=_CONFIG
    )
    return f"<div class='chart' data-chart='{key}'>{div}</div>"


def cards(figures: Sequence[tuple[str, str, str]]) -> str:
    """A row of cards, one per figure: its label, its value, and its interval (small)."""
    return "<div class='cards'>" + "".join(_card(*figure) for figure in figures) + "</div>"


def _card(label: str, value: str, interval: str) -> str:
    return (
        f"<div class='card'><div class='label'>{html.escape(label)}</div>"
        f"<div class='value'>{html.escape(value)}</div>"
        f"<div class='interval'>{html.escape(interval)}</div></div>"
    )


def figure_cell(fig: Fig, unit: str, currency: str = "") -> Cell:
    """A table cell: the mean, and the interval (shown under it in small type)."""
    mean = fmt(fig["mean"], unit, currency)
    if fig["lo"] is None or fig["lo"] == fig["hi"]:
        return mean
    return mean, f"{fmt(fig['lo'], unit, currency)} … {fmt(fig['hi'], unit, currency)}"


def table(head: Sequence[str], rows: Sequence[Sequence[Cell]], *, names: int = 1) -> str:
    """An HTML table: ``names`` columns of text, then numbers (every text escaped)."""
    th = "".join(
        f"<th{'' if i < names else ' class=num'}>{html.escape(h)}</th>" for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>" + "".join(_td(cell, i >= names) for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _td(cell: Cell, number: bool) -> str:
    mean, interval = (cell, "") if isinstance(cell, str) else cell
    text = html.escape(mean) + (f"<small>{html.escape(interval)}</small>" if interval else "")
    return f"<td class='num'>{text}</td>" if number else f"<td>{text}</td>"


def interval_bar(
    name: str,
    cats: Sequence[str],
    figs: Sequence[Fig],
    *,
    horizontal: bool = False,
    **style: object,
) -> go.Bar:
    """Means as bars, the 90% interval as an error bar (none where undefined)."""
    mean = np.array([_value(f["mean"]) for f in figs])
    lo = np.array([_value(f["lo"]) for f in figs])
    hi = np.array([_value(f["hi"]) for f in figs])
    error = {
        "type": "data",
        "symmetric": False,
        "array": np.nan_to_num(hi - mean),
        "arrayminus": np.nan_to_num(mean - lo),
        "thickness": 1.2,
    }
    if horizontal:
        return go.Bar(name=name, x=mean, y=list(cats), orientation="h", error_x=error, **style)
    return go.Bar(name=name, x=list(cats), y=mean, error_y=error, **style)


def _value(x: float | None) -> float:
    return float("nan") if x is None else float(x)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#222;background:#fafafa;margin:0}
main{max-width:1100px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1,p,li{overflow-wrap:anywhere}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 4px;border-bottom:1px solid #ddd}
.sub,.note{color:#555;font-size:14px;margin:4px 0 10px}.warn{color:#a33;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{flex:1 1 120px;border:1px solid #e3e3e3;border-radius:6px;padding:10px 12px}
.card .label{font-size:12px;color:#666}.card .value{font-size:22px;font-weight:600}
.card .interval{font-size:12px;color:#777;min-height:1em}
table{border-collapse:collapse;font-size:13px;margin:8px 0;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right}
td small{display:block;color:#888;font-size:11px;overflow-wrap:anywhere}
details{margin:8px 0}summary{cursor:pointer;color:#2171b5}
pre{background:#f6f8fa;padding:12px;overflow-x:auto;font-size:12px;border-radius:4px}
.chart{margin:4px 0 8px}
"""
