"""What a run shows and writes: terminal tables (rich renderables), JSON and CSV files.

Nothing here prints; ``cli.py`` decides where the renderables go.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from sim._atomic import Content, staged_folder
from sim.compare import Comparison, Difference, replications_needed
from sim.events import events
from sim.kpis import KPIS
from sim.runner import RunResult, Summary
from sim.steps import STEP_KINDS
from sim.steps._layers import MOVED
from sim.trace import Journey, Line


def fmt(value: float | None, unit: str, currency: str = "") -> str:
    """A figure as a person reads it: ``$1,234``, ``12.3%``, ``41`` (days), ``—``.

    ``unit`` is a KPI's unit (:data:`sim.kpis.KPIS`): money, share, count, days or ratio.

    Examples:
        >>> fmt(1234.5, "money", "USD"), fmt(0.123, "share"), fmt(None, "count")
        ('$1,234.50', '12.3%', '—')
        >>> fmt(-0.001, "money", "USD"), fmt(-0.2, "days")
        ('$0.00', '0')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = _fmt(value, unit, currency)
    # a small negative rounds to "-0": zero has no sign
    return text.lstrip("-") if not any(c in "123456789" for c in text) else text


def _fmt(value: float, unit: str, currency: str) -> str:
    if unit == "count":
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit == "ratio":
        return f"{value:.2f}"
    if unit == "days":
        return f"{value:.0f}"
    sign = "-" if value < 0 else ""
    return f"{sign}{_symbol(currency)}{abs(value):,.2f}"


def _symbol(currency: str) -> str:
    return {"USD": "$", "EUR": "€", "GBP": "£", "RUB": "₽"}.get(currency, currency + " ")


def currency_symbol(currency: str) -> str:
    """What is written before an amount: ``$`` for USD, else the code and a space."""
    return _symbol(currency)


def _interval(fig: Mapping[str, float | None], unit: str, currency: str) -> str:
    if fig["lo"] == fig["hi"]:
        return ""
    return f"{fmt(fig['lo'], unit, currency)} … {fmt(fig['hi'], unit, currency)}"


def funnel_table(summary: Summary, kinds: Mapping[str, str]) -> Table:
    """Per step: reached, converted, rate and revenue (means over replications)."""
    notes = _queue_notes(summary)
    table = Table(
        title=Text(f"Funnel — {summary.scenario}"),  # a name is text, not markup
        title_justify="left",
        caption="\n".join(notes) if notes else None,
        caption_justify="left",
    )
    for col in ("step", "type", "reached", "converted", "rate", "revenue"):
        table.add_column(col, justify="left" if col in ("step", "type") else "right")
    for step_id, figs in summary.steps.items():
        reached, converted = figs["reached"]["mean"] or 0.0, figs["converted"]["mean"] or 0.0
        rate = converted / reached if reached else None
        kind = kinds.get(step_id, "")
        label = STEP_KINDS[kind].title if kind in STEP_KINDS else kind
        table.add_row(
            step_id,
            label,
            fmt(reached, "count"),
            fmt(converted, "count"),
            fmt(rate, "share"),
            fmt(figs["revenue"]["mean"], "money", summary.currency),
        )
        for row in _detail_rows(figs, summary.currency):
            table.add_row(*row, style="dim")
    for name, figs in (summary.layers or {}).items():
        entered, now = figs["entered"]["mean"] or 0.0, figs["at_end"]["mean"] or 0.0
        table.add_row(
            name,
            "layer: entered → at end",
            fmt(entered, "count"),
            fmt(now, "count"),
            fmt(now / entered if entered else None, "share"),
            "",
        )
    return table


def _detail_rows(figs: Mapping[str, Any], currency: str) -> list[tuple[str, ...]]:
    """Rows under a step: each rep of a sales team, repeat orders, referred visitors."""
    rows: list[tuple[str, ...]] = [
        (
            f"  ↳ {name}",
            _rep_note(rep),
            fmt(rep["calls"]["mean"], "count"),
            fmt(rep["closes"]["mean"], "count"),
            fmt(rep["close_rate"]["mean"], "share"),
            fmt(rep["revenue"]["mean"], "money", currency),
        )
        for name, rep in figs.get("reps", {}).items()
    ]
    rows += _email_rows(figs)
    if figs.get("repeat_orders", {}).get("mean"):
        repeats, revenue = figs["repeat_orders"]["mean"], figs["repeat_revenue"]["mean"]
        rows.append(
            ("  ↳ repeat", "orders", "", fmt(repeats, "count"), "", fmt(revenue, "money", currency))
        )
    if figs.get("referred", {}).get("mean"):
        rows.append(
            ("  ↳ referred", "visitors", "", fmt(figs["referred"]["mean"], "count"), "", "")
        )
    return rows


def _email_rows(figs: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Under an email sequence with clicks: clicks of opens, unsubscribes of emails sent.

    The JSON has these figures for every sequence; the table shows them once there are clicks.
    """
    if not figs.get("clicked", {}).get("mean"):
        return []
    sent, opened = figs["sent"]["mean"] or 0.0, figs["opened"]["mean"] or 0.0
    clicked, left = figs["clicked"]["mean"] or 0.0, figs["unsubscribed"]["mean"] or 0.0
    return [
        (
            "  ↳ clicks",
            "of opened",
            fmt(opened, "count"),
            fmt(clicked, "count"),
            fmt(clicked / opened if opened else None, "share"),
            "",
        ),
        (
            "  ↳ unsubs",
            "of sent",
            fmt(sent, "count"),
            fmt(left, "count"),
            fmt(left / sent if sent else None, "share"),
            "",
        ),
    ]


def _rep_note(rep: Mapping[str, Any]) -> str:
    """A rep row's type column: "rep", and the mean days to close where a payment has them."""
    days = rep.get("days_to_close", {}).get("mean")
    return "rep" if days is None else f"rep, {fmt(days, 'ratio')} d to close"


def _queue_notes(summary: Summary) -> list[str]:
    """A line per sales step on how long its leads waited, and how many gave up."""
    notes = []
    for step_id, figs in summary.steps.items():
        if "calls" in figs:
            wait = fmt(figs["mean_wait_days"]["mean"], "ratio")
            dropped = fmt(figs["dropped"]["mean"], "count")
            left = fmt(figs["queued_at_end"]["mean"], "count")
            notes.append(
                f"{step_id}: a called lead waited {wait} days on average; {dropped} gave up "
                f"waiting; {left} still in the queue at the end"
            )
    return notes


def risk_lines(summary: Summary) -> list[str]:
    """What a strategist asks first: the chance of profit, and the cash needed before it pays.

    Examples:
        >>> from types import SimpleNamespace as S
        >>> figs = {"profitable": {"mean": 0.8}, "cash_low": {"mean": -900.0, "lo": -2e3},
        ...         "payback_day": {"mean": None, "lo": 3.0, "hi": None, "never": 2}}
        >>> for line in risk_lines(S(kpis=figs, replications=10, currency="USD")):
        ...     print(line)
        Chance of profit: 80.0% of 10 replications; 2 never pay back.
        Cash needed: $900.00 on average; $2,000.00 covers 95% of replications.
    """
    k, n, cur = summary.kpis, summary.replications, summary.currency
    never = k["payback_day"].get("never", 0)
    back = f"{never} never pay{'s' * (never == 1)} back" if never else "every one pays back"
    need, reserve = k["cash_low"]["mean"], k["cash_low"]["lo"]
    return [
        f"Chance of profit: {fmt(k['profitable']['mean'], 'share')} of {n} replications; {back}.",
        f"Cash needed: {fmt(-(need or 0.0), 'money', cur)} on average; "
        f"{fmt(-(reserve or 0.0), 'money', cur)} covers 95% of replications.",
    ]


def forecast_table(summary: Summary) -> Table | None:
    """A pipeline's bookings by period (P10/P50/P90), its quota, pipeline value and velocity."""
    f, cur = summary.forecast, summary.currency
    if f is None:
        return None
    table = Table(title=f"Forecast — bookings by {f['period']}, over {summary.replications} runs")
    for name in ("period", "days", "P10", "P50", "P90"):
        table.add_column(name, justify="left" if name in ("period", "days") else "right")
    for row in [*f["bookings"], {"period": "total", **f["total"]}]:
        days = f"{row['from_day']}–{row['to_day']}" if "from_day" in row else ""
        money = (fmt(row[q], "money", cur) for q in ("p10", "p50", "p90"))
        table.add_row(str(row["period"]), days, *money)
    notes = []
    if f["quota"] is not None:
        notes.append(
            f"chance to reach the quota of {fmt(f['quota'], 'money', cur)}: "
            f"{fmt(f['chance_of_quota'], 'share')}"
        )
    if f["weighted_pipeline"] is not None:
        weighted = fmt(f["weighted_pipeline"], "money", cur)
        simulated = fmt(f["simulated_pipeline"], "money", cur)
        notes.append(
            f"open deals carried in: weighted pipeline {weighted} (amount × chance of each "
            f"stage), simulated {simulated}"
        )
    v = f["velocity"]
    notes.append(
        f"sales velocity {fmt(v['per_day'], 'money', cur)} a day = {fmt(v['deals'], 'count')} deals"
        f" × {fmt(v['win_rate'], 'share')} won × {fmt(v['deal_size'], 'money', cur)}"
        f" ÷ {fmt(v['cycle_days'], 'ratio')} days to close"
    )
    table.caption = "\n".join(notes)
    return table


def economics_table(summary: Summary) -> Table:
    """Every KPI: mean and 90% interval over replications.

    The economics lines (revenue, each cost line, gross profit and profit) carry their sign.
    """
    table = Table(
        title=f"Economics — {summary.replications} replications, seed {summary.seed}",
        caption=(
            "+ − =: the lines that add up to profit; interval: 5th–95th percentile of the "
            "replications; — where undefined or never"
        ),
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("KPI")
    table.add_column("mean", justify="right")
    table.add_column("90% interval", justify="right")
    for name in KPIS:
        table.add_row(*kpi_cells(name, summary.kpis[name], summary.currency, signed=True))
    return table


def spread_table(summary: Summary) -> Table | None:
    """Where each headline KPI's spread comes from: the assumptions or luck (None: exact inputs).

    The split is the law of total variance on the run's nested design (docs/model.md §3.9).
    """
    block = summary.assumptions
    if block is None:
        return None
    table = Table(
        title=(
            f"Spread: assumptions vs luck — {block['draws']} assumption draws × "
            f"{block['replications_per_draw']} replications each"
        ),
        caption="share of each KPI's variance over replications (law of total variance)",
        title_justify="left",
        caption_justify="left",
    )
    for head in ("KPI", "std. dev.", "from assumptions", "from luck"):
        table.add_column(head, justify="left" if head == "KPI" else "right")
    for name, split in block["spread"].items():
        if not (KPIS[name].headline or KPIS[name].key_figure):
            continue
        sd = math.sqrt(split["variance"])
        table.add_row(
            KPIS[name].label,
            fmt(sd, KPIS[name].unit, summary.currency),
            f"{100 * split['assumptions_share']:.0f}%",
            f"{100 * split['luck_share']:.0f}%",
        )
    return table


def kpi_cells(
    name: str, fig: Mapping[str, float | None], currency: str, *, signed: bool = False
) -> tuple[str, str, str]:
    """How the economics table shows one KPI: its label, its mean and its 90% interval.

    With ``signed``, an economics line's label starts with its sign (``+`` money in,
    ``−`` money out, ``=`` the total of the lines above it); a payback day
    not reached in some replications says in how many; whether a replication made a
    profit (0 or 1) has no interval.
    """
    kpi = KPIS[name]
    label = f"{_SIGNS[kpi.line]} {kpi.label}" if signed and kpi.line else kpi.label
    mean = fmt(fig["mean"], kpi.unit, currency)
    interval = "" if name == "profitable" else _interval(fig, kpi.unit, currency)
    if name == "payback_day" and fig["mean"] is None and fig["lo"] is not None:
        mean = f"never in {fig.get('never', 0):,}"
    elif name == "payback_day" and fig["mean"] is None:
        mean = "never"
    return label, mean, interval


_SIGNS = {"in": "+", "out": "−", "total": "="}


def summary_json(summary: Summary) -> str:
    """The summary as JSON with sorted keys: the same run gives the same bytes."""
    return json.dumps(summary.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_outputs(
    result: RunResult,
    out_dir: str | Path,
    *,
    scenario_text: str | None = None,
    overrides: Sequence[str] = (),
    report: bool = False,
) -> list[Path]:
    """Write summary.json, replications.csv, daily.csv (events.csv, visitors.csv, ...).

    events.csv and visitors.csv come with the event log; by_step.csv, by_channel.csv and
    by_segment.csv with the breakdown; scenario.yaml with ``scenario_text``; report.html
    with ``report``. The folder is written as one set, with a manifest.json that ties
    its files to this run (``sim._atomic.staged_folder``): it holds the old set or the
    new, never a mix.

    Raises:
        OutputFolderError: the folder cannot be written, or holds files of something else.
    """
    files: dict[str, Content] = {
        "summary.json": summary_json(result.summary),
        "replications.csv": result.replications,
        "daily.csv": result.daily,
    }
    if result.events is not None:
        files["events.csv"] = result.events
    if result.visitors is not None:
        files["visitors.csv"] = result.visitors
    for name, table in (result.breakdown or {}).items():
        files[f"{name}.csv"] = table
    if scenario_text is not None:
        files["scenario.yaml"] = scenario_text
    s = result.summary
    info = {
        "kind": "run",
        "scenario": s.scenario,
        "seed": s.seed,
        "replications": s.replications,
        "overrides": list(overrides),
    }
    with staged_folder(out_dir, info) as stage:
        stage.write(files)
        if report:  # built from the staged files, as `sim report` builds it from the folder
            from sim.html_report import REPORT_FILE, report_html
            from sim.run_folder import read_run_folder

            stage.write({REPORT_FILE: report_html(read_run_folder(stage.path))})
    return [Path(out_dir) / name for name in stage.names]


# --- comparisons -----------------------------------------------------------------------------


def comparison_table(comparison: Comparison, design: int = 1) -> Table:
    """Every KPI of one design (B) next to the first (A): B − A and its 90% interval."""
    first, other = comparison.labels[0], comparison.labels[design]
    currency = comparison.runs[0].summary.currency
    table = Table(
        title=Text(  # labels are file names and overrides: text, not markup
            f"B = {other}  vs  A = {first}\n{comparison.replications} replications of seed "
            f"{comparison.seed} each (common random numbers)"
        ),
        caption=(
            "B − A: mean of the paired per-replication differences, with its 90% t-interval. "
            "apart? yes: the interval leaves out zero; ≈n: not yet, about n replications "
            "would tell; same: equal in every replication"
        ),
        title_justify="left",
    )
    table.add_column("KPI", no_wrap=True)
    for label in ("A", "B", "B − A", "90% interval", "apart?"):
        table.add_column(label, justify="right", no_wrap=True)
    for name, kpi in KPIS.items():
        a, b = (comparison.runs[i].summary.kpis[name]["mean"] for i in (0, design))
        diff = comparison.difference(design, name)
        table.add_row(
            name,
            _compact(a, kpi.unit, currency),
            _compact(b, kpi.unit, currency),
            *difference_cells(diff, kpi.unit, currency),
        )
    return table


def difference_cells(diff: Difference, unit: str, currency: str) -> tuple[str, str, str]:
    """A paired difference as text: its mean, its 90% interval, and whether it is told apart.

    The last is ``same`` (equal in every replication), ``yes`` (the interval leaves out
    zero), ``≈n`` (about n replications would tell, up to a million) or ``no``.
    """
    if diff.identical:
        return "0", "", "same"
    mean = _signed(diff.mean, unit, currency)
    if diff.lo is None or diff.hi is None:
        return mean, "", "no"
    interval = f"{_signed(diff.lo, unit, currency)} … {_signed(diff.hi, unit, currency)}"
    if diff.distinguishable:
        return mean, interval, "yes"
    needed = replications_needed(diff)
    # beyond a million replications a difference is, in practice, never told apart
    return mean, interval, f"≈{needed:,}" if needed and needed <= 1_000_000 else "no"


def _compact(value: float | None, unit: str, currency: str) -> str:
    """Like :func:`fmt`, without cents on sums of a hundred or more."""
    if unit == "money" and value is not None and math.isfinite(value) and abs(value) >= 100:
        return f"{'-' if value < 0 else ''}{_symbol(currency)}{abs(value):,.0f}"
    return fmt(value, unit, currency)


def _signed(value: float | None, unit: str, currency: str) -> str:
    text = _compact(value, "ratio" if unit == "days" else unit, currency)
    return f"+{text}" if value is not None and value > 0 else text


def comparison_json(comparison: Comparison) -> str:
    """The comparison as JSON with sorted keys (``compare.json``, ``sim compare --json``)."""
    return json.dumps(comparison.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"


def comparison_verdicts(comparison: Comparison, kpis: Sequence[str] = ("profit",)) -> list[str]:
    """One sentence per design and KPI: does it differ from the first, and by how much."""
    first, currency = comparison.labels[0], comparison.runs[0].summary.currency
    lines = []
    for i, label in enumerate(comparison.labels[1:], start=1):
        for kpi in kpis:
            diff, unit = comparison.difference(i, kpi), KPIS[kpi].unit
            if diff.identical:
                lines.append(f"{kpi}: {label} and {first} are identical in every replication")
            elif diff.distinguishable:
                lines.append(
                    f"{kpi}: {label} differs from {first} by {_signed(diff.mean, unit, currency)}"
                    f" (90% interval {_signed(diff.lo, unit, currency)} … "
                    f"{_signed(diff.hi, unit, currency)})"
                )
            else:
                needed = replications_needed(diff)
                more = f"; about {needed:,} would" if needed else ""
                lines.append(
                    f"{kpi}: {label} and {first} cannot be told apart with {diff.pairs} "
                    f"replications{more}, if the difference is as measured "
                    f"({_signed(diff.mean, unit, currency)})"
                )
    return lines


# --- journeys --------------------------------------------------------------------------------


def journey_view(journey: Journey, currency: str) -> Group:
    """A visitor's story: who they are, one row per thing that happened, what they paid.

    Trust is shown where it changed.
    """
    money = _symbol(currency)
    header = Text(
        f"Visitor {journey.visitor}: {journey.segment} from {journey.channel}, arrived day "
        f"{journey.arrival_day}, trust {journey.trust_at_arrival:.2f}, willingness to pay "
        f"×{journey.wtp_scale:.2f}{' (junk contact)' if journey.junk else ''}",
        style="bold",
    )
    table = Table(show_edge=False, box=None, padding=(0, 1))
    for col, justify in (("day", "right"), ("step", "left"), ("what", "left"), ("trust", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    trust = journey.trust_at_arrival
    for line in journey.lines:
        changed = line.trust != trust
        trust = line.trust
        table.add_row(
            str(line.day), line.step, _say(line, money), f"{trust:.2f}" if changed else ""
        )
    paid = f"paid {fmt(journey.paid, 'money', currency)}"
    if journey.refunded:
        paid += f", refunded {fmt(journey.refunded, 'money', currency)}"
    return Group(header, table, Text(paid, style="dim"))


def _say(line: Line, money: str) -> str:
    if line.what == "arrive":
        return "arrived"
    if line.what == "shown":
        return f"shown at {money}{line.amount:,.2f}" if line.amount else "shown"
    if line.what == "call":
        return f"called by {line.who}"
    if line.what == "worked":
        return f"worked by {line.who}"
    if line.what == MOVED.name:
        return f"moved to layer {line.who}"
    event = next((e for e in events() if e.name == line.what), None)
    if event is not None and event.paid:
        return f"{event.says} {money}{line.amount:,.2f}"
    text = event.says if event is not None and event.says else line.what.replace("_", " ")
    return f"{text} {money}{line.amount:,.2f}" if line.amount else text
