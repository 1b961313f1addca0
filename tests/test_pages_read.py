"""Pages a person reads: charts that show late steps and honest intervals, tables that fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.compare import compare_scenarios, designs_to_compare
from sim.compare_report import comparison_html
from sim.report_charts import FEW_SUBSCRIBERS, funnel_chart, segments_chart

CHROMIUM = "/usr/bin/chromium"
LAPTOP = {"width": 1366, "height": 768}


def _fig(mean: float, lo: float, hi: float) -> dict[str, float | None]:
    return {"mean": mean, "lo": lo, "hi": hi}


def test_funnel_axis_is_logarithmic() -> None:
    """A step with 1% of the entry's visitors is a bar, not a sliver, on a log axis."""
    steps = {
        "entry": {"reached": _fig(10000, 9900, 10100), "converted": _fig(3000, 2900, 3100)},
        "late": {"reached": _fig(100, 90, 110), "converted": _fig(12, 8, 16)},
    }
    fig = funnel_chart(steps, {"entry": "entry", "late": "late"})
    assert fig.layout.xaxis.type == "log"


def _segment(subscribers: float) -> dict[str, dict[str, float | None]]:
    some = _fig(0.2, 0.1, 0.3)
    return {
        "cr1": some,
        "cr2": some,
        "revenue_per_visitor": _fig(2, 1, 3),
        "profit_per_buyer": _fig(50, 40, 60),
        "subscribers": _fig(subscribers, 0, 2 * subscribers),
        "churn": _fig(0.5, 0.0, 1.0),
    }


def test_churn_from_a_handful_of_subscribers_draws_no_whisker() -> None:
    fig = segments_chart({"few": _segment(1.9), "many": _segment(40)}, "$")
    churn = next(t for t in fig.data if t.name == "churned / subscribers")
    assert list(churn.error_y.array) == [0.0, 0.5], "no 0–100% whisker for 1.9 subscribers"
    assert list(churn.error_y.arrayminus) == [0.0, 0.5]
    assert "of 1.9 subscribers" in churn.text[0]
    assert 1.9 < FEW_SUBSCRIBERS < 40


@pytest.fixture(scope="module")
def four_designs_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    designs, labels = designs_to_compare(
        ["scenarios/quickstart.yaml"],
        versus=[
            "funnel.course.price=55;channels.ads.daily_budget=150",
            "funnel.course.price=65;channels.ads.daily_budget=250",
            "funnel.course.via=email;funnel.course.take=0.5",
        ],
    )
    comparison = compare_scenarios(designs, labels, replications=2)
    page = tmp_path_factory.mktemp("compare") / "compare.html"
    page.write_text(comparison_html(comparison), encoding="utf-8")
    return page


def test_every_kpi_table_names_designs_by_letter(four_designs_page: Path) -> None:
    text = four_designs_page.read_text(encoding="utf-8")
    table = text[text.index("<section id='kpis'>") :]
    assert "<th class=num>D − A</th>" in table
    assert "<b>B</b> = funnel.course.price=55;channels.ads.daily_budget=150" in table


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
def test_comparison_page_fits_a_laptop(four_designs_page: Path, tmp_path: Path) -> None:
    """At 1366 px nothing runs off the page: every B − A column can be read."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport=LAPTOP)
        page.goto(four_designs_page.as_uri())
        page.locator("#kpis").screenshot(path=str(tmp_path / "kpis.png"))
        width = page.evaluate("document.documentElement.scrollWidth")
        table = page.evaluate(
            "(() => { const t = document.querySelector('#kpis table');"
            " return [t.scrollWidth, t.parentElement.clientWidth]; })()"
        )
        browser.close()
    assert width <= LAPTOP["width"], f"the page is {width} px wide"
    assert table[0] <= table[1], f"the table ({table[0]} px) overflows its section ({table[1]} px)"


def test_replications_needed_beyond_reach_read_no() -> None:
    from sim.compare import Difference
    from sim.report import difference_cells

    tiny = Difference(mean=1e-150, lo=-1.0, hi=1.0, sd=1.0, pairs=2)
    assert difference_cells(tiny, "money", "USD")[2] == "no"
