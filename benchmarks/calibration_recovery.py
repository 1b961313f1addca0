"""Calibration recovery: do the posterior 90% intervals hold the truth in 90% of pilots?

Usage:
    python benchmarks/calibration_recovery.py [--case NAME ...] [--pilots N] [--jobs J]
        [--population P] [--generations G]

For each case, N pilots are simulated by the engine of ``sim run`` from the scenario's own
(known) values, each written as a pilot CSV (``sim.pilot.pilot_from_run``), read back and
calibrated (``sim.calibrate.calibrate``); a parameter's interval "holds" when its posterior
5th..95th percentile contains the true value. Prints, per case and parameter, how it was
fitted, the hits out of N against 0.9·N ± its binomial standard error √(N·0.9·0.1), and the
mean posterior 90% width against the prior's. Cases:

- ``one_offer``: an opt-in and one offer (exact likelihood for both);
- ``pastry``: the pastry school (nurture emails, a tripwire with a trust gain, the course by
  email, its order bump) piloted for three weeks: the opt-in rate exact, the tripwire's and
  the bump's take by ABC-SMC (emails and earlier purchases change trust);
- ``sales``: leads queue for one rep (tests/data/sales_step.yaml): the opt-in rate exact, the
  rep's close rate by ABC-SMC;
- ``late_email``: a course mailed a week after the opt-in, a two-week pilot that counted its
  purchases but not whom it reached (tests/data/late_email.yaml): the take, exact, on the
  leads whose email was due by the pilot's end.

Pilots run in J processes (the figures do not depend on J: pilot i is replication i and its
fit is seeded i).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sim import ScenarioSource, run_scenario
from sim.calibrate import calibrate
from sim.calibrate_abc import AbcSettings
from sim.paths import get_value
from sim.pilot import pilot_from_run, read_pilot

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    """A scenario, the changes that make it a pilot, and its free parameters' priors."""

    file: str
    overrides: tuple[str, ...]
    unreached: tuple[str, ...] = ()  # steps whose reach the pilot file leaves empty


CASES = {
    "one_offer": Case("tests/data/one_offer.yaml", ()),
    "pastry": Case(
        "scenarios/pastry_school.yaml",
        (
            "horizon_days=21",
            "acquisition_days=21",
            "channels.instagram.daily_budget=100",
            "funnel.masterclass.rate=0.3",
            "calibrate={funnel.masterclass.rate: {between: [0.05, 0.6]}, "
            "funnel.tripwire.take: {between: [0.05, 0.8]}, "
            "funnel.starter_kit.take: {between: [0.1, 0.9]}}",
        ),
    ),
    "sales": Case("tests/data/sales_step.yaml", ()),
    "late_email": Case("tests/data/late_email.yaml", (), unreached=("course",)),
}


def source(case: Case) -> ScenarioSource:
    """The case's scenario with its pilot's changes."""
    return ScenarioSource.from_file(ROOT / case.file).with_overrides(list(case.overrides))


def fit_one(name: str, index: int, pilot_csv: str, population: int, generations: int) -> dict:
    """Calibrate pilot ``index`` of a case: path → (method, lo, hi, prior width)."""
    scenario = source(CASES[name]).scenario
    pilot = read_pilot(pilot_csv, scenario)
    settings = AbcSettings(population=population, generations=generations, seed=index)
    fit = calibrate(scenario, pilot, draws=2**14, seed=index, abc=settings)
    return {
        p.path: (p.method, p.posterior[0], p.posterior[2], p.prior[2] - p.prior[0])
        for p in fit.parameters
    }


@dataclass(frozen=True)
class Coverage:
    """One parameter of a case over its pilots: how often the 90% interval held the truth."""

    path: str
    truth: float
    method: str
    hits: int
    pilots: int
    width: float  # the mean posterior 90% width
    prior_width: float

    @property
    def z(self) -> float:
        """Hits against 0.9·N in binomial standard errors."""
        return (self.hits - 0.9 * self.pilots) / math.sqrt(self.pilots * 0.9 * 0.1)

    def line(self) -> str:
        """The parameter's printed line."""
        se = math.sqrt(self.pilots * 0.9 * 0.1)
        return (
            f"  {self.path} = {self.truth:g} [{self.method}]: {self.hits}/{self.pilots} "
            f"intervals hold it (expected {0.9 * self.pilots:.0f} ± {se:.1f}, z {self.z:+.1f}); "
            f"mean 90% width {self.width:.3f} of the prior's {self.prior_width:.3f}"
        )


def study(
    name: str, pilots: int, jobs: int = 1, population: int = 50, generations: int = 3
) -> list[Coverage]:
    """Simulate and calibrate a case's pilots: each parameter's coverage."""
    spec = source(CASES[name]).scenario
    tree = spec.model_dump(by_alias=True)
    truth = {path: float(get_value(tree, path)) for path in spec.calibrate}
    result = run_scenario(spec, replications=pilots, seed=spec.seed, events=True)
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for r in range(pilots):
            path = Path(folder) / f"pilot{r}.csv"
            rows = pilot_from_run(result, r)
            rows["reached"] = rows["reached"].astype(object)
            rows.loc[rows["step"].isin(CASES[name].unreached), "reached"] = ""
            rows.to_csv(path, index=False)
            files.append(str(path))
        args = [(name, r, files[r], population, generations) for r in range(pilots)]
        if jobs == 1:
            fits = [fit_one(*a) for a in args]
        else:
            with ProcessPoolExecutor(jobs) as pool:
                fits = list(pool.map(fit_one, *zip(*args, strict=True)))
    return [
        Coverage(
            path,
            value,
            fits[0][path][0],
            sum(f[path][1] <= value <= f[path][2] for f in fits),
            pilots,
            sum(f[path][2] - f[path][1] for f in fits) / pilots,
            fits[0][path][3],
        )
        for path, value in truth.items()
    ]


def main() -> None:
    """Run the chosen cases and print their coverage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs="*", choices=list(CASES), default=list(CASES))
    parser.add_argument("--pilots", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--population", type=int, default=50, help="ABC-SMC particles")
    parser.add_argument("--generations", type=int, default=3, help="ABC-SMC generations")
    args = parser.parse_args()
    for name in args.case:
        start = time.perf_counter()
        found = study(name, args.pilots, args.jobs, args.population, args.generations)
        seconds = time.perf_counter() - start
        print(f"{name} ({CASES[name].file}): {args.pilots} pilots, {seconds:.0f} s", flush=True)
        for row in found:
            print(row.line(), flush=True)


if __name__ == "__main__":
    main()
