"""Sales pipelines: stages that take time and filter, payments that come later or never.

Closed forms (docs/model.md §3.8): a deal moves on from a stage with its plain rate; its
time there is ``round(median · e^(spread · z))``; a deal still in a stage after
``rots_after_days`` is lost; a payment comes ``delay`` days after the deal reaches it,
except for the ``never_pays`` share.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy.stats import norm
from typer.testing import CliRunner

import sim
from cli import app
from conftest import ROOT, assert_within_4se, base_spec, event_table, run_model, scenario_from
from sim.compile import compile_scenario
from sim.model import FunnelModel


def _pmf(median: float, spread: float, upto: int) -> np.ndarray:
    """P(T = k), k = 0 … upto, of T = round(median · e^(spread · z)) (rounding half up)."""
    k = np.arange(upto + 1)
    if spread == 0:
        return (k == math.floor(median + 0.5)).astype(float)
    with np.errstate(divide="ignore"):
        upper = norm.cdf(np.log((k + 0.5) / median) / spread)
        lower = norm.cdf(np.log(np.maximum(k - 0.5, 0) / median) / spread)
    return upper - np.where(k == 0, 0.0, lower)


def _pipeline(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    spec = base_spec(**{"horizon_days": 200, "acquisition_days": 10, **top})
    spec["funnel"] += list(steps)
    return spec


def test_a_stage_that_always_moves_on_at_once_changes_nothing() -> None:
    """A stage of rate 1 and no time between two steps: the same buyers, orders, AOV, CR2."""
    tree = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    staged = copy.deepcopy(tree)
    staged["funnel"].insert(1, {"id": "qualified", "type": "stage", "after": "guide"})
    for step in staged["funnel"]:
        if step["id"] == "course":
            step["after"] = "qualified"
    runs = [
        sim.run_scenario(scenario_from(t), replications=4, seed=9).summary.kpis
        for t in (tree, staged)
    ]
    for kpi in ("buyers", "orders", "aov", "cr2", "revenue"):
        assert runs[1][kpi]["mean"] == pytest.approx(runs[0][kpi]["mean"], rel=1e-12), kpi


def test_a_chain_of_stages_pays_and_closes_as_the_convolution_says() -> None:
    """Two stages and a payment: the share that pays, and the days from lead to payment."""
    a = {"rate": 0.8, "median": 4.0, "spread": 0.5}
    b = {"rate": 0.5, "median": 8.0, "spread": 0.4, "rot": 15}
    delay, never = 3, 0.1
    spec = _pipeline(
        {"id": "proposal", "type": "stage", "after": "magnet", "rate": a["rate"],
         "days": {"median": a["median"], "spread": a["spread"]}},
        {"id": "meeting", "type": "stage", "after": "proposal", "rate": b["rate"],
         "days": {"median": b["median"], "spread": b["spread"]}, "rots_after_days": b["rot"]},
        {"id": "paid", "type": "payment", "after": "meeting", "price": 1000,
         "delay": {"median": delay}, "never_pays": never},
    )  # fmt: skip
    model = run_model(spec, seed=21)
    ev = event_table(model)
    leads = int(model.ledger.steps["converted"][0])
    pa = _pmf(a["median"], a["spread"], 120)
    pb = _pmf(b["median"], b["spread"], 120)
    pb[b["rot"] + 1 :] = 0.0  # still in the stage after the limit: lost
    p = a["rate"] * b["rate"] * pb.sum() * (1 - never)
    buys = ev[ev.event == "buy"]
    assert_within_4se(
        len(buys), leads * p, math.sqrt(leads * p * (1 - p)), f"payments of {leads} leads, p={p}"
    )
    assert model.ledger.steps["revenue"][3] == pytest.approx(1000 * len(buys))
    # days from the lead to the payment: T_a + (T_b | T_b ≤ rot) + delay, by convolution
    close = np.convolve(pa, pb / pb.sum())
    k = np.arange(close.size) + delay
    mean, sd = (
        float((k * close).sum()),
        math.sqrt(float((k**2 * close).sum()) - (k * close).sum() ** 2),
    )
    arrived = ev[ev.event == "optin"].set_index("visitor").day
    days = (buys.day.to_numpy() - arrived.loc[buys.visitor].to_numpy()).astype(float)
    n = days.size
    assert_within_4se(days.mean(), mean, sd / math.sqrt(n), "mean days to close")
    for q in (10, 14, 18, 24):
        cdf = float(close[k <= q].sum())
        assert_within_4se(
            float((days <= q).mean()), cdf, math.sqrt(cdf * (1 - cdf) / n), f"P(close ≤ {q} days)"
        )


def test_a_payment_comes_late_or_never() -> None:
    """Paid within the horizon: P(pays) · P(arrival + delay < horizon), lead by lead."""
    median, spread, never, horizon = 10.0, 0.5, 0.2, 30
    spec = _pipeline(
        {"id": "paid", "type": "payment", "after": "magnet", "price": 500,
         "delay": {"median": median, "spread": spread}, "never_pays": never},
        horizon_days=horizon,
    )  # fmt: skip
    model = run_model(spec, seed=4)
    ev = event_table(model)
    arrived = ev[ev.event == "optin"].day.to_numpy()
    cdf = np.cumsum(_pmf(median, spread, horizon))
    p = (1 - never) * cdf[horizon - 1 - arrived]
    paid = int((ev.event == "buy").sum())
    assert_within_4se(paid, p.sum(), math.sqrt((p * (1 - p)).sum()), "payments in the horizon")
    n = arrived.size
    never_paid = int((ev.event == "never_paid").sum())
    assert_within_4se(never_paid, n * never, math.sqrt(n * never * (1 - never)), "never paid")
    assert model.ledger.steps["converted"][1] == paid
    assert np.count_nonzero(model.population.column("bought")) == paid


def test_a_stage_is_never_a_sale() -> None:
    """Stages book no money and make no buyer."""
    spec = _pipeline({"id": "s", "type": "stage", "after": "magnet", "rate": 0.5})
    model = run_model(spec, seed=2)
    assert model.ledger.daily["revenue"].sum() == 0
    assert not model.population.column("bought").any()
    assert model.ledger.steps["converted"][1] > 0


@pytest.fixture(scope="module")
def crm() -> sim.RunResult:
    """The bundled CRM pipeline, two replications, with the event log."""
    scenario = sim.load_scenario(ROOT / "scenarios" / "crm_pipeline.yaml")
    return sim.run_scenario(scenario, replications=2, seed=5, events=True)


def test_the_crm_pipeline_counts_only_paying_clients(crm: sim.RunResult) -> None:
    """Buyers, orders, AOV and CR2 are the payments of the event log, and nothing else."""
    assert crm.events is not None
    for r, row in crm.replications.iterrows():
        ev = crm.events[crm.events.replication == r]
        buys = ev[ev.event == "buy"]
        assert set(buys.step) == {"payment"}
        carried = len((ROOT / "scenarios" / "crm_open_deals.csv").read_text().splitlines()) - 1
        leads = int((ev.event == "optin").sum()) + carried  # the open deals count as leads
        assert row["buyers"] == buys.visitor.nunique() > 0
        assert row["orders"] == len(buys)
        assert row["aov"] == pytest.approx(buys.amount.sum() / len(buys))
        assert row["cr2"] == pytest.approx(buys.visitor.nunique() / leads)


def test_a_deal_keeps_one_owner_whose_calls_bound_all_its_work(crm: sim.RunResult) -> None:
    """Each deal is called and worked by one rep; no rep works more than their calls a day."""
    assert crm.events is not None
    ev = crm.events
    work = ev[ev.event.isin(["call", "worked"])]
    # the call that opened the deal (a call that did not reach the lead is not the deal's)
    missed = ev[ev.event == "unreached"].set_index(["replication", "visitor", "day"]).index
    keyed = work.set_index(["replication", "visitor", "day"]).index
    opened = work[~(keyed.isin(missed) & (work.event == "call").to_numpy())]
    owners = opened[opened.visitor.isin(ev[ev.event == "deal"].visitor)]
    per_deal = owners.groupby(["replication", "visitor"]).amount.nunique()
    assert len(per_deal) > 0
    assert (per_deal == 1).all()
    assert (work[work.event == "worked"].groupby(["replication", "visitor"]).size() >= 1).any()
    per_day = work.groupby(["replication", "day", "amount"]).size()
    team = yaml.safe_load((ROOT / "scenarios" / "crm_pipeline.yaml").read_text())["funnel"][1]
    calls = {i + 1.0: rep["calls_per_day"] for i, rep in enumerate(team["team"])}
    limit = per_day.index.get_level_values("amount").map(calls)
    assert (per_day.to_numpy() <= limit.to_numpy()).all()
    assert (per_day.to_numpy() == limit.to_numpy()).any()  # the team is busy some days


def _calls(**sales: Any) -> dict[str, Any]:
    """A sales step with room for every lead, after the optin."""
    return {
        "id": "calls",
        "type": "sales_call",
        "after": "magnet",
        "price": 100,
        "max_wait_days": 30,
        "team": [{"name": "ann", "calls_per_day": 1000, "close_rate": 0.5}],
        **sales,
    }


@pytest.mark.parametrize("attempts", [1, 3])
def test_reach_with_reminders_and_attempts(attempts: int) -> None:
    """Reached within k calls: 1 − (1 − a) · ((1 − q)(1 − a))^(k − 1), q = 1 − Π(1 − r_i)."""
    a, sms, email = 0.4, 0.3, 0.1
    reach = {
        "rate": a,
        "attempts": attempts,
        "reminders": [
            {"via": "sms", "cost": 0.05, "response_rate": sms},
            {"via": "email", "cost": 0.01, "response_rate": email},
        ],
    }
    model = run_model(_pipeline(_calls(reach=reach), horizon_days=60), seed=8)
    ev = event_table(model)
    leads = int((ev.event == "optin").sum())
    q = 1 - (1 - sms) * (1 - email)
    p = 1 - (1 - a) * ((1 - q) * (1 - a)) ** (attempts - 1)
    called = ev[ev.event == "call"].visitor.nunique()
    missed = ev[ev.event == "unreached"].groupby("visitor").size()
    reached = called - int((missed == attempts).sum())
    assert called == leads
    assert_within_4se(
        reached, leads * p, math.sqrt(leads * p * (1 - p)), f"reached within {attempts} calls"
    )
    reminders = int((ev.event == "reminded").sum())
    cost = model.ledger.lines["acquisition"].sum()
    assert cost == pytest.approx(reminders * 0.06)


def test_junk_is_dropped_with_its_reasons() -> None:
    """Each dropped junk lead has one reason, drawn by the given shares."""
    shares = {"budget": 0.4, "authority": 0.1, "need": 0.3, "timing": 0.2}
    spec = _pipeline(_calls(qualify={"cost_per_lead": 2, "reasons": shares}))
    spec["segments"]["s"]["junk_share"] = 0.3
    model = run_model(spec, seed=6)
    t = model.ledger.steps
    junk = float(t["disqualified"][1])
    assert junk > 0
    assert sum(float(t[f"disqualified_{n}"][1]) for n in shares) == junk
    for name, share in shares.items():
        got = float(t[f"disqualified_{name}"][1])
        assert_within_4se(got, junk * share, math.sqrt(junk * share * (1 - share)), name)


def _with_open_deals(tmp_path: Path, rows: str, **contract: Any) -> Path:
    """A pipeline with no new leads: a sales step holding the open deals of ``rows``."""
    (tmp_path / "deals.csv").write_text(rows)
    spec = _pipeline(
        _calls(outcome="deal", open_deals="deals.csv"),
        {"id": "contract", "type": "stage", "after": "calls", "worked_by": "calls", **contract},
        {"id": "payment", "type": "payment", "after": "contract", "price": 1, "never_pays": 0.1},
    )
    spec["channels"]["web"]["visitors_per_day"] = 0
    spec["funnel"][1]["team"] = [
        {"name": "ann", "calls_per_day": 5, "close_rate": 0.5},
        {"name": "bob", "calls_per_day": 5, "close_rate": 0.5},
    ]
    path = tmp_path / "pipeline.yaml"
    path.write_text(json.dumps(spec))
    return path


def test_open_deals_close_as_their_stage_says(tmp_path: Path) -> None:
    """Deals carried in: each moves on with the rate, given the days it has spent already."""
    median, spread, rot, rate, never = 10.0, 0.5, 30, 0.6, 0.1
    elapsed = np.tile([0, 5, 15, 25, 40], 100)
    rows = "stage,days_in_stage,owner,amount\n" + "".join(
        f"contract,{d},{'ann' if i % 2 else 'bob'},{1000 + i}\n" for i, d in enumerate(elapsed)
    )
    path = _with_open_deals(
        tmp_path,
        rows,
        rate=rate,
        days={"median": median, "spread": spread},
        rots_after_days=rot,
    )
    model = FunnelModel(compile_scenario(sim.load_scenario(path)), rng=11, record_events=True)
    model.run()

    def cdf(x: np.ndarray) -> np.ndarray:  # P(round(T) ≤ x) for whole x, ≥ 0
        return norm.cdf(np.log((x + 0.5) / median) / spread)

    below = np.where(elapsed > 0, cdf(np.maximum(elapsed - 1.0, 0)), 0.0)  # P(T < elapsed)
    p = rate * (1 - never) * np.clip((cdf(np.full(elapsed.size, rot)) - below) / (1 - below), 0, 1)
    buys = event_table(model).query("event == 'buy'")
    assert_within_4se(len(buys), p.sum(), math.sqrt((p * (1 - p)).sum()), "open deals paid")
    assert model.ledger.steps["revenue"][3] == pytest.approx(
        buys.amount.sum()
    )  # each at its own amount
    assert set(buys.amount) <= {1000.0 + i for i in range(elapsed.size)}
    assert model.ledger.daily["leads"].sum() == elapsed.size  # no new leads: the deals alone


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        ("stage,days_in_stage,amount\ncontract,1,100\n", "deals.csv row 1: missing column owner"),
        ("stage,days_in_stage,owner,amount\ncontract,1,ann,100\nnope,1,ann,5\n",
         "deals.csv row 3, column stage: no step has id 'nope'"),
        ("stage,days_in_stage,owner,amount\ncontract,1,zoe,100\n",
         "deals.csv row 2, column owner: 'zoe' is not a rep"),
        ("stage,days_in_stage,owner,amount\ncontract,1,ann,-100\n",
         "deals.csv row 2, column amount: -100 is negative"),
        ("stage,days_in_stage,owner,amount\ncalls,1,ann,100\n",
         "deals.csv row 2, column stage: 'calls' is a step of type sales_call"),
    ],
)  # fmt: skip
def test_a_bad_deals_file_is_refused_where_it_is_wrong(
    tmp_path: Path, rows: str, said: str
) -> None:
    """Run and validate both refuse it (exit 2), naming the file, the row and the column."""
    path = _with_open_deals(tmp_path, rows)
    for command in (["run", str(path), "-n", "1"], ["validate", str(path)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert said in " ".join(result.output.split()), result.output


def test_the_forecast_reads_the_replications(crm: sim.RunResult) -> None:
    """The chance of quota is the share of runs that booked it; the periods add up."""
    f = crm.summary.forecast
    assert f is not None
    revenue = crm.replications["revenue"].to_numpy()
    assert f["chance_of_quota"] == np.mean(revenue >= f["quota"])
    daily = crm.daily.pivot(index="day", columns="replication", values="revenue").to_numpy()
    first = daily[: f["bookings"][0]["to_day"] + 1].sum(axis=0)
    assert f["bookings"][0]["p50"] == pytest.approx(float(np.quantile(first, 0.5)))
    assert f["total"]["p90"] == pytest.approx(float(np.quantile(revenue, 0.9)))
    v = f["velocity"]
    assert v["per_day"] == pytest.approx(
        v["deals"] * v["win_rate"] * v["deal_size"] / v["cycle_days"]
    )


def test_a_funnel_without_a_payment_has_no_forecast() -> None:
    result = sim.run_scenario(
        sim.load_scenario(ROOT / "scenarios" / "quickstart.yaml"), replications=2
    )
    assert result.summary.forecast is None
    assert "forecast" not in result.summary.to_dict()


def test_the_agency_runs_its_five_funnels_and_only_sales_take_money() -> None:
    """The agency set validates and runs; its stages (a review) book no money."""
    path = ROOT / "scenarios" / "agency" / "agency.yaml"
    result = sim.run_scenario(sim.load_scenario(path), replications=2, seed=3)
    steps = result.summary.steps
    for stage in ("consultation", "proposal", "contract", "review"):
        assert steps[stage]["revenue"]["mean"] == 0
    assert steps["review"]["converted"]["mean"] > 0
    assert steps["first_payment"]["revenue"]["mean"] > 0
    assert steps["qualification"]["disqualified_budget"]["mean"] > 0
    assert steps["qualification"]["reminders"]["mean"] > 0
