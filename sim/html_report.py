"""The run report: one self-contained HTML page built from a run's output folder.

The page holds the funnel, cumulative cash with its band and payback day, the leads in each
engagement layer over time (when the scenario declares layers), money by offer
and by channel, the segment breakdown, the economics table and the scenario itself.
plotly.js is embedded once, so the page opens offline. It is built only from the files of
the folder (:mod:`sim.run_folder`), so ``sim run --report`` and a later ``sim report DIR``
give the same bytes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import kpis
from sim._atomic import read_manifest, staged_folder
from sim.metrics import INTERVAL, describe
from sim.page import Cell, cards, chart, figure_cell, section, shell, table
from sim.report import currency_symbol, fmt, kpi_cells
from sim.report_charts import (
    FEW_SUBSCRIBERS,
    cash_chart,
    funnel_chart,
    layers_chart,
    money_chart,
    segments_chart,
)
from sim.run_folder import RunFolder, read_run_folder
from sim.steps import STEP_KINDS

Measure = Callable[[pd.DataFrame], pd.Series]
Groups = dict[str, dict[str, dict[str, float | None]]]

REPORT_FILE = "report.html"


def write_report(folder: str | Path) -> Path:
    """Build ``report.html`` from a run's output folder and publish the folder again.

    The folder is rewritten as one set (its files as they are, the new page and a new
    manifest), so a kill leaves the folder with the old page or the new, never a mix.

    Raises:
        RunFolderError: the folder is not a complete ``sim run --out`` folder of one run.
    """
    run = read_run_folder(folder)
    page = report_html(run)
    manifest = read_manifest(run.path)
    info = {k: v for k, v in manifest.items() if k not in ("files", "funnelsim")}
    kept = [name for name in manifest["files"] if name != REPORT_FILE]
    with staged_folder(run.path, info) as stage:
        stage.link(run.path, kept)
        stage.write({REPORT_FILE: page})
    return run.path / REPORT_FILE


def report_html(run: RunFolder) -> str:
    """The whole page as text."""
    s, sign = run.summary, currency_symbol(run.summary["currency"])
    sections = [
        _funnel_section(run),
        _forecast_section(s),
        _cash_section(run, sign),
        _layers_section(run),
        _offers_section(run, sign),
        _channels_section(run, sign),
        _segments_section(run, sign),
        _economics_section(s),
        _scenario_section(run.scenario_text),
    ]
    return shell(
        f"Run report — {s['scenario']}",
        _subtitle(s) + _headline(s) + "".join(sections),
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


def _funnel_section(run: RunFolder) -> str:
    steps = run.by_step.drop_duplicates("step")
    figs = run.summary["steps"]
    shown = [row for row in steps.itertuples() if STEP_KINDS[str(row.kind)].counts_visitors]
    kinds = dict(zip(steps["step"], steps["kind"], strict=True))
    labels = {str(row.step): _step_label(row, figs, kinds) for row in shown}
    plot = funnel_chart({str(row.step): figs[row.step] for row in shown}, labels)
    rows = []
    for row in steps.itertuples():
        rows += [_funnel_row(row, figs), *_team_rows(figs[row.step])]
    head = ("step", "type", "reached", "converted", "rate", "reached / step before")
    steps_table = table(head, rows, names=2)
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
    return section("funnel", "The funnel", note, chart("funnel", plot) + steps_table)


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


def _step_label(row: Any, figs: Mapping[str, Any], kinds: Mapping[str, str]) -> str:
    rate = _from_before(row, figs)
    if rate is None:
        return f"<b>{html.escape(row.step)}</b>"
    declined = row.after_event == "declined"
    who = "decliners" if declined else STEP_KINDS[kinds[row.after]].converted
    what = f"{fmt(rate, 'share')} of {html.escape(row.after)} {who}"
    return f"<b>{html.escape(row.step)}</b><br><span style='font-size:11px'>{what}</span>"


def _funnel_row(row: Any, figs: Mapping[str, Any]) -> list[Cell]:
    fig = figs[row.step]
    reached, converted = fig["reached"]["mean"] or 0.0, fig["converted"]["mean"] or 0.0
    kind = STEP_KINDS[row.kind]
    return [
        row.step,
        kind.title,
        figure_cell(fig["reached"], "count"),
        figure_cell(fig["converted"], "count"),
        fmt(converted / reached if reached else None, "share"),
        fmt(_from_before(row, figs), "share") if kind.counts_visitors else "—",
    ]


def _team_rows(fig: Mapping[str, Any]) -> list[list[Cell]]:
    """One row per rep of a sales step: calls, closes and close rate."""
    return [
        [
            f"↳ {name}",
            "rep: calls → closes",
            figure_cell(rep["calls"], "count"),
            figure_cell(rep["closes"], "count"),
            fmt(rep["close_rate"]["mean"], "share"),
            "",
        ]
        for name, rep in fig.get("reps", {}).items()
    ]


def _forecast_section(s: Mapping[str, Any]) -> str:
    """A pipeline's bookings by period with P10/P50/P90, quota, pipeline value and velocity."""
    f = s.get("forecast")
    if f is None:
        return ""
    cur = s["currency"]
    rows: list[list[Cell]] = [
        [str(r["period"]), f"{r['from_day']}–{r['to_day']}", *_quantiles(r, cur)]
        for r in f["bookings"]
    ]
    rows.append(["total", "", *_quantiles(f["total"], cur)])
    v = f["velocity"]
    facts = [
        f"Sales velocity {fmt(v['per_day'], 'money', cur)} a day: {fmt(v['deals'], 'count')} "
        f"deals × {fmt(v['win_rate'], 'share')} won × {fmt(v['deal_size'], 'money', cur)} ÷ "
        f"{fmt(v['cycle_days'], 'ratio')} days to close."
    ]
    if f["quota"] is not None:
        facts.insert(
            0,
            f"Chance to reach the quota of {fmt(f['quota'], 'money', cur)}: "
            f"{fmt(f['chance_of_quota'], 'share')} of the runs.",
        )
    if f["weighted_pipeline"] is not None:
        facts.append(
            f"Open deals carried in: weighted pipeline {fmt(f['weighted_pipeline'], 'money', cur)}"
            f" (each amount × its stages' chances), simulated "
            f"{fmt(f['simulated_pipeline'], 'money', cur)}."
        )
    note = (
        f"Revenue booked by {f['period']}: P10, P50 and P90 over the runs (one run in ten books "
        "less than P10, one in ten more than P90). " + " ".join(facts)
    )
    body = table(["period", "days", "P10", "P50", "P90"], rows, names=2)
    return section("forecast", "Forecast", note, body)


def _quantiles(row: Mapping[str, float], cur: str) -> list[Cell]:
    return [fmt(row[q], "money", cur) for q in ("p10", "p50", "p90")]


def _cash_section(run: RunFolder, sign: str) -> str:
    cash = run.daily.pivot(index="day", columns="replication", values="cumulative_cash")
    values = cash.to_numpy(dtype=float)
    lo, hi = np.quantile(values, INTERVAL, axis=1)
    band = {"mean": values.mean(axis=1).tolist(), "lo": lo.tolist(), "hi": hi.tolist()}
    payback = run.summary["kpis"]["payback_day"]
    plot = cash_chart([int(d) for d in cash.index], band, payback, sign)
    note = (
        "All revenue minus all costs, summed day by day: the line is the mean over "
        "replications, the band holds the middle 90% of them on each day. The dashed line "
        "is the mean payback day (first day from which the cumulative cash stays at least "
        "zero to the end), the shade its 90% interval."
    )
    return section("cash", "Cumulative cash", note, chart("cash", plot))


def _layers_section(run: RunFolder) -> str:
    """Leads in each engagement layer over time, and who entered each (when declared)."""
    layers = run.summary.get("layers")
    if not layers:
        return ""
    # the layers' own order is daily.csv's (the JSON's keys may be sorted)
    names = [c.removeprefix("layer.") for c in run.daily.columns if c.startswith("layer.")]
    means = run.daily.groupby("day")[[f"layer.{name}" for name in names]].mean()
    plot = layers_chart(
        [int(d) for d in means.index],
        {name: means[f"layer.{name}"].tolist() for name in names},
    )
    rows: list[list[Cell]] = [
        [
            name,
            fmt(layers[name]["entered"]["mean"], "count"),
            fmt(layers[name]["at_end"]["mean"], "count"),
        ]
        for name in names
    ]
    note = (
        "Leads in each layer at the end of each day (mean over replications): a lead sits in "
        "the last layer whose rule holds, and moves when an email is opened or clicked or "
        "something is bought. The table: leads that ever entered each layer, and those in it "
        "when the horizon ends."
    )
    body = chart("layers", plot) + table(["layer", "entered", "in it at the end"], rows)
    return section("layers", "Engagement layers", note, body)


def _offers_section(run: RunFolder, sign: str) -> str:
    t = run.by_step
    selling = [kind.name for kind in STEP_KINDS.values() if kind.sells]
    sold = t[t["kind"].isin(selling) | (t.groupby("step")["payments"].transform("sum") > 0)]
    money = ("revenue", "refunds", "cogs", "fees", "gross_profit", "payments")
    groups = _summarize(sold, "step", {m: _column(m) for m in money})
    plot = money_chart(groups, {"revenue": "revenue", "gross_profit": "gross profit"}, sign)
    cur = run.summary["currency"]
    rows = [
        [name, *(figure_cell(g[m], "count" if m == "payments" else "money", cur) for m in money)]
        for name, g in groups.items()
    ]
    offers_table = table(
        ("offer", "revenue", "refunds", "COGS", "fees", "gross profit", "payments"), rows
    )
    note = (
        "What each offer brought in over the horizon, and what is left after refunds, cost "
        "of goods and payment fees (gross profit); bars show the 90% interval."
    )
    return section(
        "offers", "Revenue and gross profit by offer", note, chart("offers", plot) + offers_table
    )


def _channels_section(run: RunFolder, sign: str) -> str:
    t = run.by_channel.assign(profit=run.by_channel["gross_profit"] - run.by_channel["spend"])
    counts = ("visitors", "leads", "buyers")
    money = ("spend", "revenue", "gross_profit", "profit")
    measures = {m: _column(m) for m in (*counts, *money)} | {"poas": _per("gross_profit", "spend")}
    groups = _summarize(t, "channel", measures)
    measures_shown = {"revenue": "revenue", "gross_profit": "gross profit", "spend": "spend"}
    plot = money_chart(groups, measures_shown, sign)
    cur = run.summary["currency"]
    kinds = dict(zip(t["channel"], t["type"], strict=True))
    rows = [
        [name, kinds[name]]
        + [figure_cell(g[m], "count") for m in counts]
        + [figure_cell(g[m], "money", cur) for m in money]
        + [figure_cell(g["poas"], "ratio")]
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
    return section(
        "channels",
        "Revenue, gross profit and spend by channel",
        note,
        chart("channels", plot) + table(head, rows, names=2),
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
        [name, *(figure_cell(g[m], kinds.get(m, "money"), cur) for m in measures)]
        for name, g in groups.items()
    ]
    head: tuple[str, ...] = ("segment", "visitors", "CR1", "CR2", "revenue / visitor")
    head += ("gross profit / buyer",)
    head += ("subscribers", "churned / subscribers")
    note = (
        "Who converts (leads per visitor, buyers per lead), who pays (revenue per visitor, "
        "gross profit per buyer) and who churns (subscribers who left within the horizon; "
        f"no interval where fewer than {FEW_SUBSCRIBERS:.0f} subscribers a replication)."
    )
    plot = segments_chart(groups, sign)
    return section("segments", "Segments", note, chart("segments", plot) + table(head, rows))


def _economics_section(summary: Mapping[str, Any]) -> str:
    rows = []
    for name in kpis.KPIS:
        fig = summary["kpis"].get(name)
        if fig is None:
            continue
        label, mean, interval = kpi_cells(name, fig, summary["currency"], signed=True)
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
        "replications; — where undefined. The lines marked + (money in), − (money out) and "
        "= (the total of the lines above) add up to profit: every cost the scenario states "
        "is on exactly one of them."
    )
    return section("economics", "Economics", note, body)


def _scenario_section(text: str) -> str:
    body = (
        "<details><summary>scenario.yaml (click to open)</summary>"
        f"<pre>{html.escape(text)}</pre></details>"
    )
    return section("scenario", "The scenario", "The file this run simulated, as run.", body)


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
    return cards([kpi_cells(name, s["kpis"][name], s["currency"]) for name in kpis.headline()])
