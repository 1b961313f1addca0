"""The comparison page: designs side by side, and each one's difference to the first.

One self-contained HTML file, like the run report (plotly.js embedded once, opens offline):
money by design with the spread over replications, the paired difference of the profit to
the first design with its 90% interval, and every KPI in a table.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from sim.compare import Comparison, Difference
from sim.kpis import KPIS
from sim.page import chart, figure_cell, interval_bar, section, shell, table
from sim.report import comparison_verdicts, currency_symbol, difference_cells

REPORT_FILE = "compare.html"
JSON_FILE = "compare.json"
_MONEY = (("revenue", "revenue"), ("gross_profit", "gross profit"), ("profit", "profit"))


def comparison_html(comparison: Comparison) -> str:
    """The whole page as text."""
    labels = comparison.labels
    title = f"Comparison — {' vs '.join(labels)}"
    subtitle = (
        f"<p class='sub'>{comparison.replications} replications of seed {comparison.seed} for "
        "every design (common random numbers: replication r of each design meets the same "
        "arrivals and dice). Bars: mean, with the 5th–95th percentile of the replications; "
        "differences: mean of the paired per-replication differences, with its 90% "
        "t-interval.</p>"
    )
    verdicts = "".join(f"<li>{html.escape(line)}</li>" for line in comparison_verdicts(comparison))
    sections = [
        section(
            "money",
            "Money by design",
            "Revenue, gross profit and profit; the whiskers hold 90% of the replications.",
            chart("money", _money_chart(comparison)),
        ),
        section(
            "difference",
            f"Profit compared with {labels[0]}",
            "A design is told apart from the first when its interval leaves out zero.",
            chart("difference", _difference_chart(comparison)),
        ),
        section("kpis", "Every KPI", _legend(labels), _kpi_table(comparison)),
    ]
    return shell(title, f"{subtitle}<ul>{verdicts}</ul>" + "".join(sections))


def _money_chart(comparison: Comparison) -> go.Figure:
    fig = go.Figure(
        [
            interval_bar(
                label, comparison.labels, [run.summary.kpis[kpi] for run in comparison.runs]
            )
            for kpi, label in _MONEY
        ]
    )
    sign = currency_symbol(comparison.runs[0].summary.currency)
    fig.update_layout(
        barmode="group",
        yaxis_title=f"{sign} over the horizon",
        height=380,
        margin={"t": 30, "b": 40, "l": 70, "r": 20},
        legend={"orientation": "h", "y": 1.1},
    )
    return fig


def _difference_chart(comparison: Comparison) -> go.Figure:
    others = comparison.labels[1:]
    diffs = [_as_figure(comparison.difference(i, "profit")) for i in range(1, len(comparison.runs))]
    fig = go.Figure([interval_bar("profit difference", others, diffs, horizontal=True)])
    fig.add_vline(x=0, line_color="#444", line_width=1)
    sign = currency_symbol(comparison.runs[0].summary.currency)
    fig.update_layout(
        xaxis_title=f"profit − profit of {comparison.labels[0]} ({sign})",
        height=140 + 50 * len(others),
        margin={"t": 20, "b": 50, "l": 160, "r": 20},
        showlegend=False,
    )
    return fig


def _as_figure(diff: Difference) -> dict[str, float | None]:
    return {"mean": diff.mean, "lo": diff.lo, "hi": diff.hi}


def letter(i: int) -> str:
    """The column name of design ``i``: A, B, … Z, then A2, B2 and so on.

    Examples:
        >>> letter(0), letter(1), letter(26)
        ('A', 'B', 'A2')
    """
    return chr(ord("A") + i % 26) + (str(i // 26 + 1) if i >= 26 else "")


def _legend(labels: list[str]) -> str:
    """Which design each column letter stands for (labels can be long overrides)."""
    return " · ".join(
        f"<b>{letter(i)}</b> = {html.escape(label)}" for i, label in enumerate(labels)
    )


def _kpi_table(comparison: Comparison) -> str:
    """Every KPI by design, then each design's difference to the first.

    Designs are columns named by letter (the legend above says which), so the table fits
    a laptop's screen however long the labels are.
    """
    currency = comparison.runs[0].summary.currency
    n = len(comparison.labels)
    head = ["KPI", *(letter(i) for i in range(n))]
    head += [f"{letter(i)} − A" for i in range(1, n)]
    rows = []
    for name, kpi in KPIS.items():
        runs = comparison.runs
        row = [name] + [figure_cell(run.summary.kpis[name], kpi.unit, currency) for run in runs]
        for i in range(1, len(runs)):
            row.append(_difference_cell(comparison.difference(i, name), kpi.unit, currency))
        rows.append(row)
    return table(head, rows)


def _difference_cell(diff: Difference, unit: str, currency: str) -> tuple[str, str] | str:
    mean, interval, apart = difference_cells(diff, unit, currency)
    if apart == "same":
        return "same in every replication"
    return mean, f"{interval}; apart? {apart}" if interval else mean
