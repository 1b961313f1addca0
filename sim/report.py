"""What a run shows and writes: terminal tables (rich renderables), JSON and CSV files.

Nothing here prints; ``cli.py`` decides where the renderables go.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

from rich.table import Table

from sim._atomic import Content, write_files
from sim.metrics import KPIS
from sim.runner import RunResult, Summary

# how each KPI is shown: money, count, share or day
_KIND = {
    "visitors": "count",
    "leads": "count",
    "buyers": "count",
    "orders": "count",
    "cr1": "share",
    "cr2": "share",
    "roas": "ratio",
    "poas": "ratio",
    "ltv_cac": "ratio",
    "payback_day": "day",
}
_LABEL = {
    "cr1": "CR1 (leads / visitors)",
    "cr2": "CR2 (buyers / leads)",
    "cpl": "CPL (spend / lead)",
    "cac": "CAC (spend / buyer)",
    "aov": "AOV (revenue / order)",
    "ltv": "LTV (gross profit / buyer)",
    "roas": "ROAS (revenue / spend)",
    "poas": "POAS (gross profit / spend)",
    "payback_day": "payback day",
    "ltv_cac": "LTV / CAC",
    "profit_per_visitor": "profit per visitor",
}


def fmt(value: float | None, kind: str, currency: str = "") -> str:
    """A figure as a person reads it: ``$1,234``, ``12.3%``, ``day 41``, ``—``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if kind == "count":
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    if kind == "share":
        return f"{100 * value:.1f}%"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "day":
        return f"{value:.0f}"
    sign = "-" if value < 0 else ""
    return f"{sign}{_symbol(currency)}{abs(value):,.2f}"


def _symbol(currency: str) -> str:
    return {"USD": "$", "EUR": "€", "GBP": "£", "RUB": "₽"}.get(currency, currency + " ")


def _interval(fig: Mapping[str, float | None], kind: str, currency: str) -> str:
    if fig["lo"] == fig["hi"]:
        return ""
    return f"{fmt(fig['lo'], kind, currency)} … {fmt(fig['hi'], kind, currency)}"


def funnel_table(summary: Summary, kinds: Mapping[str, str]) -> Table:
    """Per step: reached, converted, rate and revenue (means over replications)."""
    table = Table(title=f"Funnel — {summary.scenario}", title_justify="left")
    for col in ("step", "type", "reached", "converted", "rate", "revenue"):
        table.add_column(col, justify="left" if col in ("step", "type") else "right")
    for step_id, figs in summary.steps.items():
        reached, converted = figs["reached"]["mean"] or 0.0, figs["converted"]["mean"] or 0.0
        rate = converted / reached if reached else None
        kind = kinds.get(step_id, "")
        label = "emails sent → opened" if kind == "email_sequence" else kind
        table.add_row(
            step_id,
            label,
            fmt(reached, "count"),
            fmt(converted, "count"),
            fmt(rate, "share"),
            fmt(figs["revenue"]["mean"], "money", summary.currency),
        )
    return table


def economics_table(summary: Summary) -> Table:
    """Every KPI: mean and 90% interval over replications."""
    table = Table(
        title=f"Economics — {summary.replications} replications, seed {summary.seed}",
        caption="interval: 5th–95th percentile of the replications; — where undefined or never",
        title_justify="left",
    )
    table.add_column("KPI")
    table.add_column("mean", justify="right")
    table.add_column("90% interval", justify="right")
    for name in KPIS:
        fig, kind = summary.kpis[name], _KIND.get(name, "money")
        mean = fmt(fig["mean"], kind, summary.currency)
        if name == "payback_day" and fig["mean"] is None and fig["lo"] is not None:
            mean = "not always"
        elif name == "payback_day" and fig["mean"] is None:
            mean = "never"
        table.add_row(
            _LABEL.get(name, name.replace("_", " ")), mean, _interval(fig, kind, summary.currency)
        )
    return table


def summary_json(summary: Summary) -> str:
    """The summary as JSON with sorted keys: the same run gives the same bytes."""
    return json.dumps(summary.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_outputs(result: RunResult, out_dir: str | Path) -> list[Path]:
    """Write summary.json, replications.csv, daily.csv (events.csv, visitors.csv).

    The last two come with the event log. Each file is written in full, then renamed into
    place (``sim._atomic.write_files``).
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
    return write_files(out_dir, files)
