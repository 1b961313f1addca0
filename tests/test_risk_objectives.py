"""Risk objectives of `sim optimize`: a low percentile of profit, the cash needed at a confidence.

The two designs are built so that the mean and the risk measures disagree. Visitors are
Poisson(20) on one day; every one opts in and the offer's value is far above its price, so
buyers are Poisson(20 × take) and revenue is price × buyers, all on day 0. Fixed costs of
40 a day over 5 days make profit = revenue − 200 and the lowest cumulative cash
min(0, revenue − 200), so the cash needed is max(0, 200 − revenue).

- steady (as written): price 10, take 0.5: buyers X ~ Poisson(10); mean profit −100.
- lottery (a variant): price 1000, take 0.05: buyers Y ~ Poisson(1); mean profit 800.

P(Y = 0) = e^−1 ≈ 0.37 > 0.10, so the lottery's 10th percentile of profit is −200 and its
90th percentile of cash needed is 200, exactly; the steady offer's are 10·q − 200 and
200 − 10·q with q the 10th percentile of Poisson(10) (6). The mean prefers the lottery,
the 10th percentile of profit and the cash needed at 90% prefer the steady offer.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from scipy.stats import poisson

import sim
from optimize import StudyConfig, optimize_scenario, report
from optimize.evaluate import OptimizeResult
from sim.errors import ScenarioError

FRESH = 128  # replications of the re-evaluation


def two_designs(objective: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "risk",
        "horizon_days": 5,
        "acquisition_days": 1,
        "seed": 10,  # its sampler proposes both designs among the first four trials
        "replications": 64,
        "segments": {"s": {"price_dispersion": 0.5, "trust": 1.0}},
        "channels": {"web": {"type": "organic", "visitors_per_day": 20, "mix": {"s": 1}}},
        "funnel": [
            {"id": "m", "type": "optin", "rate": 1.0},
            {"id": "o", "type": "offer", "after": "m", "price": 10, "value": 1e7, "take": 0.5},
        ],
        "costs": {"fixed_per_day": 40},
        "variants": {"lottery": {"set": {"funnel.o.price": 1000, "funnel.o.take": 0.05}}},
        "search": {"variant": ["base", "lottery"]},
        "objective": objective,
    }


def study(objective: dict[str, Any]) -> OptimizeResult:
    config = StudyConfig(
        json.dumps(two_designs(objective)), "risk", storage="memory", trials=4, prune=False
    )
    result = optimize_scenario(config, top_k=4, reeval_replications=FRESH)
    seen = {t.params["variant"] for t in result.study.trials}
    assert seen == {"base", "lottery"}, f"the search must try both designs, tried {seen}"
    return result


def by_design(result: OptimizeResult, measure: str) -> dict[str, float]:
    return {c.params["variant"]: c.objective(measure) for c in result.candidates}


def steady_band(p: float) -> tuple[float, float]:
    """Where the sample p-quantile of Poisson(10) lies, 4 SE of the count below it either way.

    The number of replications at or below x is Binomial(n, F(x)), so the sample quantile
    sits between the true quantiles at p ∓ 4·√(p(1−p)/n).
    """
    se = math.sqrt(p * (1 - p) / FRESH)
    return float(poisson.ppf(max(p - 4 * se, 0.0), 10)), float(poisson.ppf(p + 4 * se, 10))


def test_the_10th_percentile_of_profit_picks_the_steady_offer_the_mean_the_lottery() -> None:
    mean = study({"maximize": "profit"})
    assert mean.best.params["variant"] == "lottery", by_design(mean, "profit")
    low = study({"maximize": "profit@p10"})
    fresh = by_design(low, "profit@p10")
    lo, hi = steady_band(0.10)
    msg = f"fresh 10th percentiles {fresh}; steady expected in [{10 * lo - 200}, {10 * hi - 200}]"
    assert low.best.params["variant"] == "base", msg
    assert fresh["lottery"] == -200.0, msg  # 37% of replications sell nothing
    assert 10 * lo - 200 <= fresh["base"] <= 10 * hi - 200, msg
    assert fresh["base"] > fresh["lottery"], msg
    shown = report.result_dict(low)
    assert shown["objective"] == ["maximize profit@p10"]
    assert shown["measures"]["profit@p10"]["label"] == "10th percentile of profit"
    assert all(0 <= c["chance_better"] <= 1 for c in shown["candidates"]), shown["candidates"]
    assert "10th percentile of profit" in str(report.best_table(low).title)
    drawing = report.StudyDrawing.of(low.study, low.goals, "USD")
    page = report.study_page(drawing, report.decision_html(low))
    assert "10th percentile of profit" in page


def test_the_cash_needed_at_90_percent_as_objective_and_as_constraint() -> None:
    least = study({"maximize": [], "minimize": "cash_needed@p90"})
    fresh = by_design(least, "cash_needed@p90")
    lo, hi = steady_band(0.10)  # cash needed 200 − 10 X: its 90th percentile is X's 10th
    msg = (
        f"fresh cash needed at 90%: {fresh}; steady expected in [{200 - 10 * hi}, {200 - 10 * lo}]"
    )
    assert least.best.params["variant"] == "base", msg
    assert fresh["lottery"] == 200.0, msg
    assert 200 - 10 * hi <= fresh["base"] <= 200 - 10 * lo, msg
    assert report.result_dict(least)["measures"]["cash_needed@p90"]["label"] == (
        "90th percentile of cash needed"
    )
    bounded = study({"maximize": "profit", "constraints": {"cash_needed@p90": {"max": 190}}})
    kept = by_design(bounded, "cash_needed@p90")
    assert set(kept) == {"base"}, kept  # the lottery breaks the bound in the search already
    assert bounded.best.objective("cash_needed@p90") <= 190, kept


@pytest.mark.parametrize(
    ("objective", "path", "message"),
    [
        ({"maximize": "profit@10"}, "objective.maximize", "after @ write a percentile as pNN"),
        ({"maximize": "profit@p100"}, "objective.maximize", "after @ write a percentile as pNN"),
        ({"minimize": ["cac", "proft@p10"]}, "objective.minimize.1", "unknown KPI 'proft'"),
        (
            {"maximize": "profit", "constraints": {"cash_neded@p90": {"max": 1}}},
            "objective.constraints.cash_neded@p90",
            "unknown KPI 'cash_neded'",
        ),
    ],
)
def test_a_bad_measure_is_refused_where_it_is_written(
    objective: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        sim.parse_scenario(json.dumps(two_designs(objective)), source="s.yaml")
    found = {p.path: p.message for p in info.value.problems}
    assert path in found, found
    assert message in found[path], found
