"""The engine on the canonical workload, against the same workload as a naive Mesa model.

Usage:
    python benchmarks/run.py [--quick] [--results PATH] [size options, see --help]

Prints one table and writes benchmarks/results.json (or ``--results PATH``):

- agreement: the KPIs of the engine and of benchmarks/naive_mesa.py over replications, and
  the z-score of each difference (they do the same work if every |z| <= 4);
- speed: visitors per second, each the median of ``--repeat`` runs in this process, run in
  rounds side by side: the engine with the event log off and on, and the naive model, and
  the engine's speed over the naive model's (per visitor, so the naive model may run on
  fewer visitors);
- memory: peak resident memory, each model run once in a fresh subprocess, per visitor;
  and the engine at 10,000,000 visitors (skipped with ``--quick``);
- ``sim optimize`` on the canonical workload (benchmarks/optimize_speed.py): the whole
  command's wall time with ``--optimize-jobs`` processes, and, in full runs, how the
  search's time with ``--jobs 1`` splits between simulation, sampler, storage and the rest.

Targets: the engine at least 40x the naive model per visitor with the event log off and 10x
with it on, checked when the engine runs at 1,000,000 visitors or more; 10,000,000 visitors
in under 4 GiB of peak resident memory; a 200-trial ``sim optimize`` at 20,000 visitors x 8
replications with 2 workers in under 30 seconds. Exits with status 1 if the models disagree or a
checked target is missed.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import mesa
import numpy as np
from engine_speed import scale_overrides
from naive_mesa import CANONICAL, run_naive
from optimize_speed import SPLIT, command_wall_time, time_split

import sim
from sim.compile import compile_scenario
from sim.runner import run_replication

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AGREEMENT_KPIS = ("visitors", "leads", "buyers", "orders", "revenue")
MAX_Z = 4.0
SPEED_TARGETS = {"engine": 40.0, "engine_events": 10.0}
SPEED_TARGET_AT = 1_000_000  # the engine size the speed targets are stated for
MEMORY_BUDGET_KIB = 4 * 1024 * 1024  # 4 GiB
MEMORY_TARGET_AT = 10_000_000
MODELS = {
    "engine": "engine, event log off",
    "engine_events": "engine, event log on",
    "naive": "naive Mesa, one agent each",
}


# --- the workload ----------------------------------------------------------------------------


def scaled(visitors: float) -> sim.Scenario:
    """The canonical scenario with its traffic scaled to about ``visitors``."""
    base = sim.load_scenario(CANONICAL)
    return sim.load_scenario(CANONICAL, overrides=scale_overrides(base, visitors))


def runner(model: str, visitors: float) -> Callable[[int, int], dict[str, float]]:
    """``run(seed, index)``: one replication of ``model`` at ``visitors``; its KPIs.

    The scenario is scaled and compiled here, once, so timing a call times the run alone.
    """
    scenario = scaled(visitors)
    if model == "naive":
        return partial(run_naive, scenario)
    compiled = compile_scenario(scenario)
    events = model == "engine_events"
    return lambda seed, index: run_replication(compiled, seed, index, events=events).kpis


# --- agreement -------------------------------------------------------------------------------


def agreement(visitors: float, replications: int, seed: int) -> dict[str, object]:
    """Engine and naive model KPIs over replications, and the z-score of each difference."""
    scenario = scaled(visitors)
    compiled = compile_scenario(scenario)
    engine = [run_replication(compiled, seed, r).kpis for r in range(replications)]
    naive = [run_naive(scenario, seed + 1, r) for r in range(replications)]
    kpis = {}
    for name in AGREEMENT_KPIS:
        e = np.array([k[name] for k in engine])
        n = np.array([k[name] for k in naive])
        se_e, se_n = _se(e), _se(n)
        se = math.hypot(se_e, se_n)
        z = (e.mean() - n.mean()) / se if se > 0 else 0.0
        kpis[name] = {
            "engine_mean": float(e.mean()),
            "engine_se": se_e,
            "naive_mean": float(n.mean()),
            "naive_se": se_n,
            "z": float(z),
        }
    ok = all(abs(k["z"]) <= MAX_Z for k in kpis.values())
    return {"visitors": visitors, "replications": replications, "kpis": kpis, "ok": ok}


def _se(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else math.nan


# --- speed -----------------------------------------------------------------------------------


def speed(sizes: dict[str, float], repeat: int, seed: int) -> dict[str, dict[str, object]]:
    """Visitors per second of each model: median of ``repeat`` runs, run in rounds."""
    runs = {model: runner(model, size) for model, size in sizes.items()}
    rates: dict[str, list[float]] = {model: [] for model in sizes}
    visitors: dict[str, list[float]] = {model: [] for model in sizes}
    for r in range(repeat):
        for model, run in runs.items():
            gc.collect()  # the last run's garbage (a naive model is one big cycle) not timed here
            started = time.perf_counter()
            kpis = run(seed, r)
            elapsed = time.perf_counter() - started
            visitors[model].append(kpis["visitors"])
            rates[model].append(kpis["visitors"] / elapsed)
    return {
        model: {
            "requested_visitors": sizes[model],
            "visitors": statistics.median(visitors[model]),
            "visitors_per_s": rates[model],
            "median_visitors_per_s": statistics.median(rates[model]),
        }
        for model in sizes
    }


# --- memory ----------------------------------------------------------------------------------


def workload(model: str, visitors: float, seed: int) -> None:
    """Child process: one replication; prints its size and its memory before the run."""
    run = runner(model, visitors)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kpis = run(seed, 0)
    print(json.dumps({"visitors": kpis["visitors"], "baseline_kib": baseline}), flush=True)


def peak_memory(model: str, visitors: float, seed: int) -> dict[str, float]:
    """Run one replication in a fresh subprocess; its peak resident memory."""
    command = [
        sys.executable,
        str(HERE / "peak_rss.py"),
        sys.executable,
        str(HERE / "run.py"),
        "--workload",
        model,
        "--visitors",
        repr(visitors),
        "--seed",
        str(seed),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{model} at {visitors:,.0f} visitors failed:\n{proc.stderr}")
    lines = proc.stdout.splitlines()
    child = json.loads(next(line for line in lines if line.startswith("{")))
    peak = int(next(line for line in lines if line.startswith("peak_rss_kib")).split()[1])
    return {
        "requested_visitors": visitors,
        "visitors": child["visitors"],
        "peak_rss_kib": peak,
        "baseline_kib": child["baseline_kib"],
        "bytes_per_visitor": 1024 * (peak - child["baseline_kib"]) / max(child["visitors"], 1),
    }


# --- the optimizer -----------------------------------------------------------------------


OPTIMIZE_TARGET = {"trials": 200, "visitors": 20_000, "replications": 8, "jobs": 2, "seconds": 30.0}


def optimize_figures(args: argparse.Namespace) -> dict[str, object]:
    """``sim optimize``: wall time of the whole command, and (not --quick) the time split."""
    sizes = (
        args.optimize_trials,
        args.optimize_jobs,
        args.optimize_visitors,
        args.optimize_replications,
    )
    out: dict[str, object] = {
        "trials": args.optimize_trials,
        "jobs": args.optimize_jobs,
        "visitors": args.optimize_visitors,
        "replications": args.optimize_replications,
        **command_wall_time(*sizes),
    }
    if not args.quick:
        out["split_one_worker"] = time_split(
            args.optimize_trials, args.optimize_visitors, args.optimize_replications
        )
    return out


# --- the report ------------------------------------------------------------------------------


def machine() -> dict[str, object]:
    """CPU model, cores, memory and the versions that set the speed."""
    cpu = platform.processor() or platform.machine()
    memory_kib = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 2**20, 1) if memory_kib else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa.__version__,
        "platform": platform.platform(),
    }


def targets(results: dict[str, object], sizes: dict[str, float]) -> list[dict[str, object]]:
    """Each target: its figure and whether it is met, missed or not checked at these sizes."""
    out = []
    ratios = results["speed"]["ratios"]  # type: ignore[index]
    for model, minimum in SPEED_TARGETS.items():
        checked = sizes[model] >= SPEED_TARGET_AT
        out.append(
            {
                "target": f"{MODELS[model]}: >= {minimum:g}x naive Mesa per visitor",
                "value": ratios[model],
                "unit": "x",
                "status": _status(checked, ratios[model] >= minimum),
                "note": "" if checked else f"engine run at < {SPEED_TARGET_AT:,} visitors",
            }
        )
    opt = results["optimize"]  # type: ignore[index]
    checked = all(
        opt[k] == OPTIMIZE_TARGET[k] for k in ("trials", "visitors", "replications", "jobs")
    )
    out.append(
        {
            "target": "200-trial sim optimize, 20k visitors x 8, --jobs 2: < 30 s",
            "value": opt["seconds"],
            "unit": " s",
            "status": _status(checked, opt["seconds"] < OPTIMIZE_TARGET["seconds"]),
            "note": "" if checked else "run at other sizes",
        }
    )
    big = results["memory"]["engine_large"]  # type: ignore[index]
    checked = big is not None and big["requested_visitors"] >= MEMORY_TARGET_AT
    out.append(
        {
            "target": f"{MEMORY_TARGET_AT:,} visitors: peak resident memory < 4 GiB",
            "value": big["peak_rss_kib"] / 2**20 if big else None,
            "unit": " GiB",
            "status": _status(checked, checked and big["peak_rss_kib"] < MEMORY_BUDGET_KIB),
            "note": _memory_note(big),
        }
    )
    return out


def _memory_note(big: dict[str, float] | None) -> str:
    if big is None:
        return "skipped (--quick)"
    if big["requested_visitors"] < MEMORY_TARGET_AT:
        return f"run at {big['requested_visitors']:,.0f} visitors"
    return ""


def _status(checked: bool, met: bool) -> str:
    return "not checked" if not checked else ("met" if met else "MISSED")


def render(results: dict[str, object]) -> str:
    """The whole table as text."""
    m = results["machine"]
    lines = [
        "funnelsim benchmark: benchmarks/canonical.yaml",
        f"machine   {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; python {m['python']}, "
        f"numpy {m['numpy']}, mesa {m['mesa']}",
        "",
    ]
    lines += _render_agreement(results["agreement"])
    lines += _render_speed(results["speed"])
    lines += _render_memory(results["memory"])
    lines += _render_optimize(results["optimize"])
    lines += ["", "targets"]
    for t in results["targets"]:
        value = "" if t["value"] is None else f"{t['value']:,.2f}{t['unit']}"
        note = f" ({t['note']})" if t["note"] and t["status"] != "not checked" else ""
        if t["status"] == "not checked":
            note = f": {t['note']}"
        lines.append(f"  {t['target']:<54} {value:>10}  {t['status']}{note}")
    return "\n".join(lines)


def _render_optimize(o: dict[str, object]) -> list[str]:
    lines = [
        f"sim optimize: {o['trials']} trials, {o['visitors']:,.0f} visitors x {o['replications']} "
        f"replications, --jobs {o['jobs']}: {o['seconds']:.1f} s ({o['trials_per_second']:.1f} trials/s)"
    ]
    split = o.get("split_one_worker")
    if split:
        parts = ", ".join(
            f"{name} {split[name]:.1f} s ({split[name] / split['total']:.0%})" for name in SPLIT
        )
        lines.append(f"  the search with --jobs 1, {split['total']:.1f} s: {parts}")
    return lines


def _render_agreement(a: dict[str, object]) -> list[str]:
    lines = [
        f"agreement: engine vs naive Mesa, {a['visitors']:,.0f} visitors x "
        f"{a['replications']} replications each (mean +- standard error)",
        f"  {'kpi':<10} {'engine':>24} {'naive Mesa':>24} {'z':>7}",
    ]
    for name, k in a["kpis"].items():
        e = f"{k['engine_mean']:,.1f} +- {k['engine_se']:,.1f}"
        n = f"{k['naive_mean']:,.1f} +- {k['naive_se']:,.1f}"
        lines.append(f"  {name:<10} {e:>24} {n:>24} {k['z']:>7.2f}")
    verdict = "agree" if a["ok"] else "DISAGREE"
    lines += [f"  every |z| <= {MAX_Z:g}: {verdict}", ""]
    return lines


def _render_speed(s: dict[str, object]) -> list[str]:
    repeat = len(s["engine"]["visitors_per_s"])
    lines = [
        f"speed: visitors per second, median of {repeat} runs in this process",
        f"  {'model':<28} {'visitors/run':>13} {'visitors/s':>12} {'min':>12} {'max':>12}"
        f" {'vs naive':>9}",
    ]
    for model, label in MODELS.items():
        f = s[model]
        ratio = s["ratios"].get(model, 1.0)
        lines.append(
            f"  {label:<28} {f['visitors']:>13,.0f} {f['median_visitors_per_s']:>12,.0f}"
            f" {min(f['visitors_per_s']):>12,.0f} {max(f['visitors_per_s']):>12,.0f}"
            f" {ratio:>8.1f}x"
        )
    return [*lines, ""]


def _render_memory(mem: dict[str, object]) -> list[str]:
    lines = [
        "memory: peak resident, one replication in a fresh subprocess "
        "(per visitor: above the memory before the run)",
        f"  {'model':<28} {'visitors':>13} {'peak RSS':>12} {'before run':>12} {'per visitor':>12}",
    ]
    rows = [(MODELS[model], mem[model]) for model in MODELS]
    big = mem["engine_large"]
    size = f"{big['requested_visitors'] / 1e6:g}M" if big else "10M"
    rows.append((f"{MODELS['engine']}, {size}", big))
    for label, f in rows:
        if f is None:
            lines.append(f"  {label:<28} {'skipped (--quick)':>13}")
            continue
        lines.append(
            f"  {label:<28} {f['visitors']:>13,.0f} {_mib(f['peak_rss_kib']):>12}"
            f" {_mib(f['baseline_kib']):>12} {f['bytes_per_visitor']:>8,.0f} B"
        )
    return [*lines, ""]


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.0f} MiB"


def write_json(path: Path, data: dict[str, object]) -> None:
    """Write whole or not at all: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True, allow_nan=False, default=str)
            out.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; this is a file to share
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip the 10M-visitor memory run")
    parser.add_argument("--results", type=Path, default=HERE / "results.json")
    parser.add_argument("--visitors", type=float, default=1_000_000, help="engine runs")
    parser.add_argument("--naive-visitors", type=float, default=20_000, help="naive Mesa runs")
    parser.add_argument("--check-visitors", type=float, default=20_000, help="agreement runs")
    parser.add_argument("--check-replications", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each model")
    parser.add_argument("--memory-visitors", type=float, default=MEMORY_TARGET_AT)
    parser.add_argument("--seed", type=int, default=None, help="default: the scenario's")
    parser.add_argument("--optimize-trials", type=int, default=OPTIMIZE_TARGET["trials"])
    parser.add_argument("--optimize-visitors", type=float, default=OPTIMIZE_TARGET["visitors"])
    parser.add_argument(
        "--optimize-replications", type=int, default=OPTIMIZE_TARGET["replications"]
    )
    parser.add_argument("--optimize-jobs", type=int, default=OPTIMIZE_TARGET["jobs"])
    parser.add_argument("--workload", choices=list(MODELS), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.check_replications < 2 or args.repeat < 1:
        sys.exit("run.py: --check-replications must be >= 2 and --repeat >= 1")
    seed = sim.load_scenario(CANONICAL).seed if args.seed is None else args.seed
    if args.workload:
        workload(args.workload, args.visitors, seed)
        return 0
    sizes = {"engine": args.visitors, "engine_events": args.visitors}
    sizes["naive"] = args.naive_visitors
    results: dict[str, object] = {
        "machine": machine(),
        "scenario": str(CANONICAL.relative_to(ROOT)),
        "seed": seed,
        "overrides_at_engine_size": scale_overrides(sim.load_scenario(CANONICAL), args.visitors),
    }
    results["agreement"] = agreement(args.check_visitors, args.check_replications, seed)
    speeds = speed(sizes, args.repeat, seed)
    naive_rate = speeds["naive"]["median_visitors_per_s"]
    speeds["ratios"] = {  # type: ignore[assignment]
        model: speeds[model]["median_visitors_per_s"] / naive_rate for model in SPEED_TARGETS
    }
    results["speed"] = speeds
    # each in its own process, so they may run side by side; the large run alone after them
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {m: pool.submit(peak_memory, m, size, seed) for m, size in sizes.items()}
        memory = {m: future.result() for m, future in futures.items()}
    memory["engine_large"] = (
        None if args.quick else peak_memory("engine", args.memory_visitors, seed)
    )
    results["memory"] = memory
    results["optimize"] = optimize_figures(args)
    results["targets"] = targets(results, sizes)
    print(render(results))
    write_json(args.results, results)
    print(f"\nwritten {args.results}")
    failed = not results["agreement"]["ok"] or any(  # type: ignore[index]
        t["status"] == "MISSED" for t in results["targets"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
