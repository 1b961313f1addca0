"""The run report: one self-contained HTML page built from a run's output folder.

The page holds the funnel, cumulative cash with its band and payback day, money by offer
and by channel, the segment breakdown, the economics table and the scenario itself.
plotly.js is embedded once, so the page opens offline. It is built only from the files of
the folder (:mod:`sim.run_folder`), so ``sim run --report`` and a later ``sim report DIR``
give the same bytes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from sim._atomic import write_files
from sim.metrics import INTERVAL, KPIS, describe
from sim.report import currency_symbol, fmt, kpi_cells
from sim.report_charts import Fig, cash_chart, funnel_chart, money_chart, segments_chart
from sim.run_folder import RunFolder, read_run_folder

Measure = Callable[[pd.DataFrame], pd.Series]
Groups = dict[str, dict[str, dict[str, float | None]]]
Cell = str | tuple[str, str]  # text, or a mean and its interval

REPORT_FILE = "report.html"
_CONFIG = {"displaylogo": False, "responsive": True}
_HEADLINE = ("profit", "revenue", "gross_profit", "poas", "cac", "payback_day")
_NOT_SOLD = ("optin", "email_sequence")  # kinds that take no payment


def write_report(folder: str | Path) -> Path:
    """Build ``report.html`` from a run's output folder and write it there, whole.

    Raises:
        RunFolderError: the folder is not a complete ``sim run --out`` folder.
    """
    run = read_run_folder(folder)
    return write_files(run.path, {REPORT_FILE: report_html(run)})[0]


def report_html(run: RunFolder) -> str:
    """The whole page as text."""
    s, sign = run.summary, currency_symbol(run.summary["currency"])
    sections = [
        _funnel_section(run),
        _cash_section(run, sign),
        _offers_section(run, sign),
        _channels_section(run, sign),
        _segments_section(run, sign),
        _economics_section(s),
        _scenario_section(run.scenario_text),
    ]
    title = f"Run report — {s['scenario']}"
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script>/* plotly.js {plotly.__version__}, embedded */{get_plotlyjs()}</script>"
        f"</head><body><main><h1>{html.escape(title)}</h1>{_subtitle(s)}{_headline(s)}"
        + "".join(sections)
        + "</main></body></html>\n"
    )


# --- summaries over replications ---------------------------------------------------------


def _column(name: str) -> Measure:
    return lambda t: t[name]


def _per(num: str, den: str) -> Measure:
    return lambda t: t[num] / t[den].where(t[den] > 0)


def _summarize(table: pd.DataFrame, key: str, measures: Mapping[str, Measure]) -> Groups:
    """Per value of ``key`` (in order of appearance): each measure's mean and interval."""
    out: Groups = {}
    for name in pd.unique(table[key]):
        rows = table[table[key] == name]
        out[str(name)] = {m: describe(f(rows).to_numpy(dtype=float)) for m, f in measures.items()}
    return out


# --- sections ------------------------------------------------------------------------------


def _section(key: str, title: str, note: str, body: str) -> str:
    return (
        f"<section id='{key}'><h2>{html.escape(title)}</h2>"
        f"<p class='note'>{note}</p>{body}</section>"
    )


def _chart(key: str, fig: go.Figure) -> str:
    """One chart's div and drawing script; a fixed id keeps the page's bytes stable."""
    div = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=f"chart-{key}", config=_CONFIG
    )
    return f"<div class='chart' data-chart='{key}'>{div}</div>"


def _funnel_section(run: RunFolder) -> str:
    steps = run.by_step.drop_duplicates("step")
    figs = run.summary["steps"]
    shown = [row for row in steps.itertuples() if row.kind != "email_sequence"]
    labels = {row.step: _step_label(row, figs) for row in shown}
    chart = funnel_chart({row.step: figs[row.step] for row in shown}, labels)
    rows = []
    for row in steps.itertuples():
        rows += [_funnel_row(row, figs), *_team_rows(figs[row.step])]
    head = ("step", "type", "reached", "converted", "rate", "reached / step before")
    table = _table(head, rows, names=2)
    note = (
        "Visitors who reached each step and who converted there (opted in, bought, "
        "subscribed), mean over replications with the 90% interval. The rate under each "
        "name is the share of the step before (its <code>after</code>, <code>on</code> or "
        "<code>on_decline</code>) that reached it. Email sequences are in the table only: "
        "their counts are emails sent and opened. Under a sales step, each rep's calls "
        "and closes."
    )
    for step_id, fig in figs.items():
        if "mean_wait_days" in fig:
            note += (
                f" At {html.escape(step_id)} a called lead waited "
                f"{fmt(fig['mean_wait_days']['mean'], 'ratio')} days on average, and "
                f"{fmt(fig['dropped']['mean'], 'count')} leads gave up waiting."
            )
    return _section("funnel", "The funnel", note, _chart("funnel", chart) + table)


def _from_before(row: Any, figs: Mapping[str, Any]) -> float | None:
    """Reached ÷ the visitors the step before passed on (converted, or declined)."""
    if row.after not in figs:
        return None
    before = figs[row.after]
    passed = before["converted"]["mean"] or 0.0
    if row.after_event == "declined" and "calls" in before:  # a sales call: not closed, or gave up
        passed = (before["calls"]["mean"] or 0.0) - passed + (before["dropped"]["mean"] or 0.0)
    elif row.after_event == "declined":
        passed = (before["reached"]["mean"] or 0.0) - passed
    reached = figs[row.step]["reached"]["mean"] or 0.0
    return reached / passed if passed > 0 else None


def _step_label(row: Any, figs: Mapping[str, Any]) -> str:
    rate = _from_before(row, figs)
    if rate is None:
        return f"<b>{html.escape(row.step)}</b>"
    who = {"optin": "leads", "declined": "decliners"}.get(row.after_event, "buyers")
    what = f"{fmt(rate, 'share')} of {html.escape(row.after)} {who}"
    return f"<b>{html.escape(row.step)}</b><br><span style='font-size:11px'>{what}</span>"


def _funnel_row(row: Any, figs: Mapping[str, Any]) -> list[Cell]:
    fig = figs[row.step]
    reached, converted = fig["reached"]["mean"] or 0.0, fig["converted"]["mean"] or 0.0
    kind = "emails sent → opened" if row.kind == "email_sequence" else row.kind
    return [
        row.step,
        kind,
        _figure(fig["reached"], "count"),
        _figure(fig["converted"], "count"),
        fmt(converted / reached if reached else None, "share"),
        "—" if row.kind == "email_sequence" else fmt(_from_before(row, figs), "share"),
    ]


def _team_rows(fig: Mapping[str, Any]) -> list[list[Cell]]:
    """One row per rep of a sales step: calls, closes and close rate."""
    return [
        [
            f"↳ {name}",
            "rep: calls → closes",
            _figure(rep["calls"], "count"),
            _figure(rep["closes"], "count"),
            fmt(rep["close_rate"]["mean"], "share"),
            "",
        ]
        for name, rep in fig.get("reps", {}).items()
    ]


def _cash_section(run: RunFolder, sign: str) -> str:
    cash = run.daily.pivot(index="day", columns="replication", values="cumulative_cash")
    values = cash.to_numpy(dtype=float)
    lo, hi = np.quantile(values, INTERVAL, axis=1)
    band = {"mean": values.mean(axis=1).tolist(), "lo": lo.tolist(), "hi": hi.tolist()}
    payback = run.summary["kpis"]["payback_day"]
    chart = cash_chart([int(d) for d in cash.index], band, payback, sign)
    note = (
        "All revenue minus all costs, summed day by day: the line is the mean over "
        "replications, the band holds the middle 90% of them on each day. The dashed line "
        "is the mean payback day (first day the cumulative cash is at least zero), the "
        "shade its 90% interval."
    )
    return _section("cash", "Cumulative cash", note, _chart("cash", chart))


def _offers_section(run: RunFolder, sign: str) -> str:
    t = run.by_step
    sold = t[~t["kind"].isin(_NOT_SOLD) | (t.groupby("step")["payments"].transform("sum") > 0)]
    money = ("revenue", "refunds", "cogs", "fees", "gross_profit", "payments")
    groups = _summarize(sold, "step", {m: _column(m) for m in money})
    chart = money_chart(groups, {"revenue": "revenue", "gross_profit": "gross profit"}, sign)
    cur = run.summary["currency"]
    rows = [
        [name, *(_figure(g[m], "count" if m == "payments" else "money", cur) for m in money)]
        for name, g in groups.items()
    ]
    table = _table(
        ("offer", "revenue", "refunds", "COGS", "fees", "gross profit", "payments"), rows
    )
    note = (
        "What each offer brought in over the horizon, and what is left after refunds, cost "
        "of goods and payment fees (gross profit); bars show the 90% interval."
    )
    return _section(
        "offers", "Revenue and gross profit by offer", note, _chart("offers", chart) + table
    )


def _channels_section(run: RunFolder, sign: str) -> str:
    t = run.by_channel.assign(profit=run.by_channel["gross_profit"] - run.by_channel["spend"])
    counts = ("visitors", "leads", "buyers")
    money = ("spend", "revenue", "gross_profit", "profit")
    measures = {m: _column(m) for m in (*counts, *money)} | {"poas": _per("gross_profit", "spend")}
    groups = _summarize(t, "channel", measures)
    measures_shown = {"revenue": "revenue", "gross_profit": "gross profit", "spend": "spend"}
    chart = money_chart(groups, measures_shown, sign)
    cur = run.summary["currency"]
    kinds = dict(zip(t["channel"], t["type"], strict=True))
    rows = [
        [name, kinds[name]]
        + [_figure(g[m], "count") for m in counts]
        + [_figure(g[m], "money", cur) for m in money]
        + [_figure(g["poas"], "ratio")]
        for name, g in groups.items()
    ]
    head = (
        "channel",
        "type",
        *counts,
        "spend",
        "revenue",
        "gross profit",
        "gross profit − spend",
        "POAS",
    )
    note = (
        "Where the money came from: the revenue and gross profit of each channel's visitors "
        "and what the channel cost (paid budget, organic cost per day, partner commission)."
    )
    return _section(
        "channels",
        "Revenue, gross profit and spend by channel",
        note,
        _chart("channels", chart) + _table(head, rows, names=2),
    )


def _segments_section(run: RunFolder, sign: str) -> str:
    measures = {
        "visitors": _column("visitors"),
        "cr1": _per("leads", "visitors"),
        "cr2": _per("buyers", "leads"),
        "revenue_per_visitor": _per("revenue", "visitors"),
        "profit_per_buyer": _per("gross_profit", "buyers"),
        "subscribers": _column("subscribers"),
        "churn": _per("churned", "subscribers"),
    }
    groups = _summarize(run.by_segment, "segment", measures)
    cur = run.summary["currency"]
    kinds = {"visitors": "count", "cr1": "share", "cr2": "share", "subscribers": "count"}
    kinds |= {"churn": "share"}
    rows = [
        [name, *(_figure(g[m], kinds.get(m, "money"), cur) for m in measures)]
        for name, g in groups.items()
    ]
    head = ("segment", "visitors", "CR1", "CR2", "revenue / visitor", "gross profit / buyer")
    head += ("subscribers", "churned / subscribers")
    note = (
        "Who converts (leads per visitor, buyers per lead), who pays (revenue per visitor, "
        "gross profit per buyer) and who churns (subscribers who left within the horizon)."
    )
    chart = segments_chart(groups, sign)
    return _section("segments", "Segments", note, _chart("segments", chart) + _table(head, rows))


def _economics_section(summary: Mapping[str, Any]) -> str:
    rows = []
    for name in KPIS:
        fig = summary["kpis"].get(name)
        if fig is None:
            continue
        label, mean, interval = kpi_cells(name, fig, summary["currency"])
        data = " ".join(f"data-{k}='{json.dumps(fig[k])}'" for k in ("mean", "lo", "hi"))
        rows.append(
            f"<tr data-kpi='{name}' {data}><td>{html.escape(label)}</td>"
            f"<td class='num'>{html.escape(mean)}</td>"
            f"<td class='num'>{html.escape(interval)}</td></tr>"
        )
    body = (
        "<table class='economics'><thead><tr><th>KPI</th><th>mean</th><th>90% interval</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    note = (
        "Every KPI: the mean over replications and the 5th–95th percentile of the "
        "replications; — where undefined."
    )
    return _section("economics", "Economics", note, body)


def _scenario_section(text: str) -> str:
    body = (
        "<details><summary>scenario.yaml (click to open)</summary>"
        f"<pre>{html.escape(text)}</pre></details>"
    )
    return _section("scenario", "The scenario", "The file this run simulated, as run.", body)


# --- page parts ----------------------------------------------------------------------------


def _subtitle(s: Mapping[str, Any]) -> str:
    meta = s.get("meta", {})
    versions = ", ".join(f"{k} {v}" for k, v in meta.items() if k in ("funnelsim", "numpy"))
    return (
        f"<p class='sub'>{s['replications']} replications, seed {s['seed']}"
        f"{'; ' + html.escape(versions) if versions else ''}. "
        "Intervals: 5th–95th percentile over replications.</p>"
    )


def _headline(s: Mapping[str, Any]) -> str:
    cards = []
    for name in _HEADLINE:
        label, mean, interval = kpi_cells(name, s["kpis"][name], s["currency"])
        cards.append(
            f"<div class='card'><div class='label'>{html.escape(label)}</div>"
            f"<div class='value'>{html.escape(mean)}</div>"
            f"<div class='interval'>{html.escape(interval)}</div></div>"
        )
    return f"<div class='cards'>{''.join(cards)}</div>"


def _figure(fig: Fig, kind: str, currency: str = "") -> Cell:
    """A table cell: the mean, and the interval (shown under it in small type)."""
    mean = fmt(fig["mean"], kind, currency)
    if fig["lo"] is None or fig["lo"] == fig["hi"]:
        return mean
    return mean, f"{fmt(fig['lo'], kind, currency)} … {fmt(fig['hi'], kind, currency)}"


def _table(head: Sequence[str], rows: Sequence[Sequence[Cell]], *, names: int = 1) -> str:
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


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#222;background:#fafafa;margin:0}
main{max-width:1100px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 4px;border-bottom:1px solid #ddd}
.sub,.note{color:#555;font-size:14px;margin:4px 0 10px}.warn{color:#a33;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{flex:1 1 120px;border:1px solid #e3e3e3;border-radius:6px;padding:10px 12px}
.card .label{font-size:12px;color:#666}.card .value{font-size:22px;font-weight:600}
.card .interval{font-size:12px;color:#777;min-height:1em}
table{border-collapse:collapse;font-size:13px;margin:8px 0;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right}
td small{display:block;color:#888;font-size:11px}
details{margin:8px 0}summary{cursor:pointer;color:#2171b5}
pre{background:#f6f8fa;padding:12px;overflow-x:auto;font-size:12px;border-radius:4px}
.chart{margin:4px 0 8px}
"""
