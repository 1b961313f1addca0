"""sim sensitivity: Sobol indices, tornado order, loss region and value of information."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import sim
from cli import app
from sim import sensitivity
from sim.sensitivity import expected_values, loss_region, sobol_indices

pytest.importorskip("SALib")

QUICKSTART = Path("scenarios/quickstart.yaml").read_text()


def _ishigami_sample(n: int) -> tuple[np.ndarray, np.ndarray]:
    from SALib.sample import sobol as sampler

    names = ["x1", "x2", "x3"]
    unit = sampler.sample(sensitivity.problem(names), n, calc_second_order=False, seed=1)
    x = -math.pi + 2 * math.pi * unit[:, :3]
    a, b = 7.0, 0.1
    y = np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])
    return unit, y


def test_sobol_indices_recover_ishigami() -> None:
    """The Ishigami function through the same indices code (seed noise a dummy input)."""
    unit, y = _ishigami_sample(4096)
    ix = sobol_indices(["x1", "x2", "x3"], unit, y, seed=3)
    a, b = 7.0, 0.1
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    first = [v1 / var, v2 / var, 0.0, 0.0]
    total = [(v1 + v13) / var, v2 / var, v13 / var, 0.0]
    for i, name in enumerate(ix.names):
        # the intervals are 90% (1.645 SE): 4 SE is 4 / 1.645 half-widths
        tol_first, tol_total = (4 / 1.645 * c[i] + 1e-3 for c in (ix.first_conf, ix.total_conf))
        assert abs(ix.first[i] - first[i]) <= tol_first, (name, ix.first[i], first[i], tol_first)
        assert abs(ix.total[i] - total[i]) <= tol_total, (name, ix.total[i], total[i], tol_total)


@pytest.fixture(scope="module")
def analysis() -> sensitivity.Sensitivity:
    """Take ranges wide, CPC narrow: the take rate dominates profit by construction."""
    overrides = [
        "funnel.course.take={between: [0.05, 0.6]}",
        "channels.ads.cpc={between: [0.98, 1.02]}",
    ]
    s = sim.parse_scenario(QUICKSTART, overrides=overrides)
    dear = sim.parse_scenario(QUICKSTART, overrides=[*overrides, "funnel.course.price=79"])
    return sensitivity.analyze(s, reps=4, sobol_n=32, designs={"base": s, "dear": dear}, voi_n=40)


def test_dominant_input_ranks_first(analysis: sensitivity.Sensitivity) -> None:
    ix = analysis.sobol["profit"]
    top = ix.names[int(np.argmax(ix.total))]
    assert top == "funnel.course.take", ix
    assert analysis.tornado["profit"][0].path == "funnel.course.take"


def test_tornado_sorted_by_swing(analysis: sensitivity.Sensitivity) -> None:
    swings = [abs(b.swing) for b in analysis.tornado["profit"]]
    assert swings == sorted(swings, reverse=True)


def test_value_of_information_bounds(analysis: sensitivity.Sensitivity) -> None:
    value = analysis.value
    assert value is not None
    for path, x in value.evppi.items():
        assert 0 <= x <= value.evpi + 1e-9, (path, x, value.evpi)


def test_loss_region_loses_more_often(analysis: sensitivity.Sensitivity) -> None:
    region = analysis.region
    assert region is not None
    assert region.loss_rate > region.overall
    assert "funnel.course.take" in region.box


def test_evppi_against_hand_computation() -> None:
    """Design B pays θ − ½, A pays 0, θ ~ U(0, 1): EVPI = EVPPI(θ) = ⅛, EVPPI(noise) ≈ 0."""
    rng = np.random.default_rng(2)
    n = 20_000
    theta, other = rng.uniform(size=n), rng.uniform(size=n)
    profit = np.vstack([np.zeros(n), theta - 0.5])
    evpi, evppi = expected_values(profit, {"theta": theta, "other": other}, bins=10)
    se = math.sqrt(np.var(np.maximum(theta - 0.5, 0)) / n)
    assert abs(evpi - 0.125) < 4 * se, (evpi, se)
    assert abs(evppi["theta"] - 0.125) < 4 * se, (evppi, se)
    # "other" cannot change the decision: each of its 10 bins' mean of θ − ½ is 0 ± σ
    # (σ = sd(θ)/√(n/10)), so its value is the mean over bins of max(0, σZ): expected
    # σ/√(2π), standard error σ·√((½ − 1/(2π))/10); 4 SE above that is the bound
    sigma = math.sqrt(np.var(theta) / (n / 10))
    bound = sigma * (1 / math.sqrt(2 * math.pi) + 4 * math.sqrt((0.5 - 1 / (2 * math.pi)) / 10))
    assert evppi["other"] < bound, (evppi, bound)


def test_loss_region_on_a_known_box() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(2000, 2))
    loses = (x[:, 0] < 0.3) & (rng.uniform(size=2000) < 0.9)
    region = loss_region(["a", "b"], x, loses)
    assert region is not None
    assert region.loss_rate > 2 * region.overall
    assert region.box["a"][1] < 0.45, region


def test_cli_writes_json_and_page(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "sensitivity",
            "scenarios/quickstart.yaml",
            "--range",
            "funnel.course.take=0.2:0.5",
            "--reps",
            "2",
            "--sobol-n",
            "4",
            "--out",
            str(tmp_path / "s"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tornado"]["profit"][0]["path"] == "funnel.course.take"
    assert data["sobol"]["profit"]["names"][-1] == "seed noise"
    assert (tmp_path / "s" / "sensitivity.html").read_text().startswith("<!doctype html>")


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_every_chart_of_the_page_draws_in_headless_chromium_offline(tmp_path: Path) -> None:
    from conftest import ROOT

    args = ["sensitivity", "scenarios/quickstart_ranges.yaml", "--reps", "2", "--sobol-n", "4"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import render_report  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    drawn = render_report.charts_drawn(tmp_path / "s" / "sensitivity.html", str(CHROMIUM))
    kinds = {name.split("-")[0] for name in drawn}
    assert kinds == {"tornado", "spider", "sobol"}, drawn
    assert all(drawn.values()), drawn


@pytest.mark.slow
def test_a_dask_cluster_and_local_processes_give_the_same_json_as_one_process(
    dask_scheduler: str,
) -> None:
    args = ["sensitivity", "scenarios/quickstart_ranges.yaml", "--reps", "2", "--sobol-n", "4"]
    local = CliRunner().invoke(app, [*args, "--json"])
    assert local.exit_code == 0, local.output
    two = CliRunner().invoke(app, [*args, "--json", "--jobs", "2"])
    assert two.exit_code == 0, two.output
    assert two.stdout == local.stdout
    remote = CliRunner().invoke(app, [*args, "--json", "--cluster", dask_scheduler])
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout
