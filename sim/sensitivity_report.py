"""What ``sim sensitivity`` shows and writes: terminal tables, JSON, CSV and an HTML page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from rich.table import Table

from sim import page
from sim._atomic import Content, staged_folder
from sim.kpis import KPIS
from sim.report import fmt
from sim.sensitivity import Sensitivity

JSON_FILE = "sensitivity.json"
CSV_FILE = "evaluations.csv"
REPORT_FILE = "sensitivity.html"


def sensitivity_json(result: Sensitivity) -> str:
    """The analysis as JSON (sorted keys, no NaN: undefined figures are null)."""
    return json.dumps(_finite(result.to_dict()), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _finite(node: Any) -> Any:
    if isinstance(node, float):
        return node if node == node and abs(node) != float("inf") else None
    if isinstance(node, dict):
        return {k: _finite(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_finite(v) for v in node]
    return node


def _unit(kpi: str) -> str:
    return KPIS[kpi].unit if kpi in KPIS else "ratio"


def tornado_table(result: Sensitivity, kpi: str) -> Table:
    """Each input's swing of ``kpi`` from its 5th to its 95th percentile, largest first."""
    unit, cur = _unit(kpi), result.currency
    table = Table(
        title=f"Tornado — {kpi}: each input at its 5th and 95th percentile, others at medians",
        caption="swing: mean paired difference (95th − 5th) on the same replications, 90% interval",
        title_justify="left",
        caption_justify="left",
    )
    for head in ("input", "5th → 95th", "swing", "90% interval"):
        table.add_column(head, justify="left" if head == "input" else "right")
    for b in result.tornado[kpi]:
        table.add_row(
            b.path,
            f"{b.low_value:.4g} → {b.high_value:.4g}",
            fmt(b.swing, unit, cur),
            f"{fmt(b.swing_lo, unit, cur)} … {fmt(b.swing_hi, unit, cur)}",
        )
    return table


def sobol_table(result: Sensitivity, kpi: str) -> Table:
    """First-order and total Sobol indices of ``kpi``, seed noise as a row of its own."""
    ix = result.sobol[kpi]
    table = Table(
        title=f"Sobol indices — {kpi} ({result.runs['sobol']} runs, Saltelli on a Sobol' sequence)",
        caption="± : 90% bootstrap interval; an input whose total index is not above the "
        "seed noise's cannot be told apart from luck",
        title_justify="left",
        caption_justify="left",
    )
    for head in ("input", "first-order", "total"):
        table.add_column(head, justify="left" if head == "input" else "right")
    for i, name in enumerate(ix.names):
        table.add_row(
            name,
            f"{ix.first[i]:.2f} ± {ix.first_conf[i]:.2f}",
            f"{ix.total[i]:.2f} ± {ix.total_conf[i]:.2f}",
        )
    return table


def region_lines(result: Sensitivity) -> list[str]:
    """Where the funnel loses money, as ranges to paste into a scenario (empty: never loses)."""
    r = result.region
    if r is None:
        return ["no evaluation lost money"]
    lines = [
        f"loss region: profit < 0 in {100 * r.loss_rate:.0f}% of runs inside "
        f"(vs {100 * r.overall:.0f}% overall; {100 * r.support:.0f}% of runs inside, "
        f"{100 * r.coverage:.0f}% of losses); as ranges:"
    ]
    lines += [f"  {path}: {{between: [{lo:.4g}, {hi:.4g}]}}" for path, (lo, hi) in r.box.items()]
    return lines


def value_table(result: Sensitivity) -> Table | None:
    """EVPI and EVPPI per input, in money (None: no decision between designs)."""
    v = result.value
    if v is None:
        return None
    means = ", ".join(
        f"{d} {fmt(m, 'money', result.currency)}" for d, m in zip(v.designs, v.means, strict=True)
    )
    table = Table(
        title="Value of information — profit gained by learning before choosing",
        caption=f"mean profit: {means}; EVPI (every input): "
        f"{fmt(v.evpi, 'money', result.currency)}",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("input")
    table.add_column("EVPPI", justify="right")
    for path, value in sorted(v.evppi.items(), key=lambda kv: -kv[1]):
        table.add_row(path, fmt(value, "money", result.currency))
    return table


def sensitivity_html(result: Sensitivity) -> str:
    """An offline page: tornado, spider, Sobol bars, the loss region and the value."""
    parts = []
    for kpi in result.tornado:
        parts.append(
            page.section(
                f"tornado-{kpi}",
                f"Tornado — {kpi}",
                "Each input at its 5th and 95th percentile, the others at their medians, "
                "on the same replications; whiskers: 90% interval of the swing.",
                page.chart(f"tornado-{kpi}", _tornado(result, kpi)),
            )
        )
        parts.append(
            page.section(
                f"spider-{kpi}",
                f"Spider — {kpi}",
                "Mean KPI with one input at each percentile, the others at their medians.",
                page.chart(f"spider-{kpi}", _spider(result, kpi)),
            )
        )
        parts.append(
            page.section(
                f"sobol-{kpi}",
                f"Sobol indices — {kpi}",
                "First-order and total indices with 90% intervals; the seed noise bar is "
                "luck: an input below it is not told apart from chance.",
                page.chart(f"sobol-{kpi}", _sobol(result, kpi)),
            )
        )
    rows = [[line] for line in region_lines(result)]
    parts.append(
        page.section(
            "loss",
            "Where the funnel loses money",
            "PRIM-style peeling.",
            page.table(["finding"], rows),
        )
    )
    if result.value is not None:
        v = result.value
        rows = [[p, fmt(x, "money", result.currency)] for p, x in v.evppi.items()]
        rows.append(["every input (EVPI)", fmt(v.evpi, "money", result.currency)])
        parts.append(
            page.section(
                "value",
                "Value of information",
                "Expected profit gained by learning an input before choosing a design.",
                page.table(["input", "value"], rows),
            )
        )
    return page.shell(f"Sensitivity — {result.scenario}", "".join(parts))


def _tornado(result: Sensitivity, kpi: str) -> go.Figure:
    bars = list(reversed(result.tornado[kpi]))
    fig = go.Figure(
        go.Bar(
            x=[b.swing for b in bars],
            y=[b.path for b in bars],
            orientation="h",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [b.swing_hi - b.swing for b in bars],
                "arrayminus": [b.swing - b.swing_lo for b in bars],
            },
        )
    )
    fig.update_layout(xaxis_title=f"{kpi}: 95th − 5th percentile", height=120 + 40 * len(bars))
    return fig


def _spider(result: Sensitivity, kpi: str) -> go.Figure:
    fig = go.Figure()
    for path, points in result.spider[kpi].items():
        fig.add_trace(
            go.Scatter(x=[100 * p for p, _, _ in points], y=[y for _, _, y in points], name=path)
        )
    fig.update_layout(xaxis_title="input percentile", yaxis_title=kpi)
    return fig


def _sobol(result: Sensitivity, kpi: str) -> go.Figure:
    ix = result.sobol[kpi]
    fig = go.Figure()
    for label, values, conf in (
        ("first-order", ix.first, ix.first_conf),
        ("total", ix.total, ix.total_conf),
    ):
        fig.add_trace(
            go.Bar(x=ix.names, y=values, name=label, error_y={"type": "data", "array": conf})
        )
    fig.update_layout(barmode="group", yaxis_title="share of variance")
    return fig


def write_sensitivity(result: Sensitivity, out_dir: Path) -> list[Path]:
    """Write sensitivity.json, evaluations.csv (every run) and sensitivity.html as one set."""
    files: dict[str, Content] = {
        JSON_FILE: sensitivity_json(result),
        CSV_FILE: pd.DataFrame(result.evaluations),
        REPORT_FILE: sensitivity_html(result),
    }
    info = {"kind": "sensitivity", "scenario": result.scenario, "seed": result.seed}
    with staged_folder(out_dir, info) as stage:
        stage.write(files)
    return [out_dir / name for name in files]
