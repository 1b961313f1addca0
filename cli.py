"""The ``sim`` command: a thin parser over the library.

Only this module prints or picks exit codes: 0 done, 2 bad input (scenario, override or
option), 1 anything unexpected. Heavy imports (numpy, mesa) happen inside the commands so
``sim --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    import optuna

    from sim.calibrate import Combination
    from sim.calibrate_abc import AbcSettings
    from sim.compare import Comparison
    from sim.errors import ScenarioError

app = typer.Typer(
    name="sim",
    help="Simulate sales funnels visitor by visitor: what a design earns before buying traffic.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)
_state = {"debug": False}

ScenarioArg = Annotated[Path, typer.Argument(help="The scenario file (YAML).", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="Override a field by its dotted path, e.g. funnel.core.price=297 (repeatable).",
    ),
]

JobsOpt = Annotated[
    int,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        help="Worker processes; results do not depend on it. Helps only for long runs: "
        "see `sim run --help`.",
    ),
]
ClusterOpt = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Run on a Dask scheduler (tcp://host:port) instead of local processes; same results.",
    ),
]


def _flags_take_no_value() -> None:
    """Show a flag as ``--json``, not ``--json <bool>``: a flag takes no value.

    Typer's help prints each option's type, flags included; a flag's type only misleads.
    """
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag and self.metavar is None else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()


def _show_version(wanted: bool) -> None:
    if wanted:
        from sim._atomic import funnelsim_version

        out.print(f"funnelsim {funnelsim_version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Simulate sales funnels visitor by visitor."""
    _state["debug"] = debug


def _show_scenario_error(exc: ScenarioError) -> None:
    count = len(exc.problems)
    err.print(f"[bold red]error:[/] the scenario has {count} problem{'s' * (count > 1)}:")
    for p in exc.problems:  # user text is escaped: a key like "[/oops]" prints as written
        where = escape(p.location())
        path = f" [bold]{escape(p.path)}[/]:" if p.path else ""
        err.print(f"  [cyan]{where}[/]:{path} {escape(p.message)}", highlight=False, soft_wrap=True)
        if p.hint:
            err.print(f"    [dim]hint:[/] {escape(p.hint)}", highlight=False, soft_wrap=True)


@contextmanager
def _user_errors() -> Iterator[None]:
    """The one error handler of every command: bad input exits 2 with a located message.

    A scenario's problems (file or override, line, column, key path), a dotted path that
    names nothing, a run folder that cannot be read and a --cluster that cannot be used
    all exit 2 without a traceback;
    anything else is unexpected and exits 1. Tracebacks only with --debug.
    """
    from sim.errors import Problem, ScenarioError
    from sim.paths import PathError
    from sim.run_folder import RunFolderError

    try:
        yield
    except (ScenarioError, PathError) as exc:
        if _state["debug"]:
            err.print(traceback.format_exc(), markup=False)
        if isinstance(exc, PathError):
            exc = ScenarioError([Problem(exc.path, exc.message, "--set", hint=exc.hint)])
        _show_scenario_error(exc)
        raise typer.Exit(2) from None
    except RunFolderError as exc:
        _fail(escape(str(exc)))
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        from sim.executor import ClusterError  # here: commands without --cluster skip its import

        if isinstance(exc, ClusterError):  # a bad or unreachable --cluster address
            _fail(escape(str(exc)))
        if _state["debug"]:
            raise
        err.print(f"[bold red]error:[/] {type(exc).__name__}: {escape(str(exc))}", highlight=False)
        err.print("[dim]run with --debug for the traceback[/]")
        raise typer.Exit(1) from None


@contextmanager
def _progress_bar(label: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr that appears only if the work takes more than a second."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task(label, total=total)
    timer = threading.Timer(1.0, bar.start)
    timer.daemon = True
    timer.start()
    try:
        yield lambda done, _total: bar.update(task, completed=done)
    finally:
        timer.cancel()
        bar.stop()


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _check_out(out_dir: Path | None, *, replace: bool) -> None:
    """Refuse an output folder that cannot be written, before any work (exit 2)."""
    if out_dir is None:
        return
    from rich.markup import escape

    from sim._atomic import OutputFolderError, check_out_dir

    try:
        check_out_dir(out_dir, replace=replace)
    except OutputFolderError as exc:
        _fail(escape(str(exc)))


def _published(write: Callable[[], list[Path]]) -> list[Path]:
    """Run a write of an output folder; a folder that changed under the run is exit 2."""
    from rich.markup import escape

    from sim._atomic import OutputFolderError

    try:
        return write()
    except OutputFolderError as exc:
        _fail(escape(str(exc)))
        raise AssertionError("unreachable") from None


@app.command()
def run(
    scenario: ScenarioArg,
    replications: Annotated[
        int | None,
        typer.Option("--replications", "-n", min=1, help="Replications (default: the scenario's)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (default: the scenario's).")] = None,
    jobs: JobsOpt = 1,
    cluster: ClusterOpt = None,
    overrides: SetOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout, nothing else.")
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Write the run's files here (listed above)."),
    ] = None,
    events: Annotated[
        bool,
        typer.Option(
            "--events",
            help="Also write events.csv and visitors.csv, the event log (needs --out).",
        ),
    ] = False,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="Also write report.html: charts that open offline (default --out <scenario>-run).",
        ),
    ] = False,
) -> None:
    """Simulate a scenario and print its funnel and economics.

    --out DIR writes summary.json (every KPI), replications.csv (one row per replication),
    daily.csv (money and people by day), by_step.csv, by_channel.csv and by_segment.csv
    (where the money comes from), scenario.yaml (the scenario as run) and manifest.json
    (the run and each file's SHA-256); --events adds events.csv (every event) and
    visitors.csv (one row per visitor); --report adds report.html.

    When --jobs helps: replications already run in batches of about 200,000 visitors,
    and each extra process spends seconds loading the engine, so --jobs pays only for
    runs of several batches that take a minute or more with one job, and only with idle
    cores. Measured (quickstart, 2 cores, best of 3): 40 replications 4.2 s with
    --jobs 1 and 16.5 s with 2; 400 replications 6.8 s and 16.9 s.

    --cluster ADDRESS sends the batches to a Dask scheduler instead (pip install
    'funnelsim[cluster]'); the output is the same, byte for byte.
    """
    if report and out_dir is None:
        out_dir = Path(f"{scenario.stem}-run")
        err.print(f"[dim]no --out given: writing the run and its report to {out_dir}/[/]")
    if events and out_dir is None:
        _fail("--events writes events.csv into the output folder: add --out DIR")
    _check_out(out_dir, replace=True)
    with _user_errors():
        from sim import ScenarioSource, run_scenario
        from sim.executor import Executor
        from sim.report import (
            economics_table,
            forecast_table,
            funnel_table,
            risk_lines,
            spread_table,
            summary_json,
            write_outputs,
        )

        source = ScenarioSource.from_file(scenario).with_overrides(overrides or [])
        spec = source.scenario
        n = replications or spec.replications
        started = time.perf_counter()
        with (
            Executor(jobs, cluster) as executor,
            _progress_bar(f"simulating {escape(spec.name)}", n) as progress,
        ):
            result = run_scenario(
                spec,
                replications=n,
                seed=seed,
                jobs=jobs,
                events=events,
                breakdown=out_dir is not None,
                progress=progress,
                executor=executor,
            )
        elapsed = time.perf_counter() - started
        written: list[Path] = []
        if out_dir is not None:
            written = _published(
                lambda: write_outputs(
                    result,
                    out_dir,
                    scenario_text=source.dump(),
                    overrides=source.overrides,
                    report=report,
                )
            )
            if report and as_json:
                err.print(f"[dim]wrote {written[-1]}[/]")
    if as_json:
        out.print(
            summary_json(result.summary), end="", markup=False, highlight=False, soft_wrap=True
        )
        return
    kinds = {step.id: step.type for step in spec.funnel}
    for line in risk_lines(result.summary):
        out.print(line, highlight=False)
    out.print(funnel_table(result.summary, kinds))
    forecast = forecast_table(result.summary)
    if forecast is not None:
        out.print(forecast)
    out.print(economics_table(result.summary))
    spread = spread_table(result.summary)
    if spread is not None:
        out.print(spread)
    out.print(f"[dim]{n} replications in {elapsed:.1f} s[/]")
    for path in written:
        out.print(f"[dim]wrote {path}[/]")


@app.command("report")
def report_command(
    folder: Annotated[
        Path,
        typer.Argument(
            help="A run's output folder (sim run SCENARIO --out DIR).", show_default=False
        ),
    ],
) -> None:
    """Build report.html again from a run's output folder, without running anything."""
    with _user_errors():
        from rich.markup import escape

        from sim._atomic import OutputFolderError
        from sim.html_report import write_report
        from sim.run_folder import RunFolderError

        try:
            path = write_report(folder)
        except (RunFolderError, OutputFolderError) as exc:
            _fail(escape(str(exc)))
    out.print(f"wrote {path}", highlight=False)


@app.command()
def optimize(
    scenario: ScenarioArg,
    trials: Annotated[
        int, typer.Option(min=1, help="Finished trials the study should reach.")
    ] = 100,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Stop starting trials after this many seconds.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Run and sampler seed (default: the scenario's).")
    ] = None,
    replications: Annotated[
        int | None,
        typer.Option(
            "--replications", "-n", min=1, help="Replications per trial (default: the scenario's)."
        ),
    ] = None,
    sampler: Annotated[
        str | None,
        typer.Option(
            help="tpe (default), nsga2 (default for several objectives), random, qmc, gp, cmaes."
        ),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage URL (postgresql://…, sqlite:///…), a journal file, or 'memory'."
        ),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="Study name (default: the file's name).")
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Worker processes sharing the study.")
    ] = 1,
    cluster: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Simulate the trials' replications on a Dask scheduler (tcp://host:port); "
            "same results.",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: ./<scenario>-optimize).")
    ] = None,
    top_k: Annotated[
        int, typer.Option("--top-k", min=1, help="Best trials to re-evaluate on fresh seeds.")
    ] = 5,
    reeval: Annotated[
        int | None,
        typer.Option(
            "--reeval-replications",
            min=2,
            help="Replications of the re-evaluation (default 2 × n).",
        ),
    ] = None,
    prune: Annotated[
        bool, typer.Option("--prune/--no-prune", help="Stop clearly worse trials early.")
    ] = True,
    overrides: SetOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON on stdout, nothing else.")
    ] = False,
) -> None:
    """Search the scenario's `search` section for the design that best meets its objective."""
    out_dir = out_dir or Path(f"{scenario.stem}-optimize")
    from optimize.pool import Pool  # light: the engine is not imported yet

    # Start the simulation processes first: they import the engine while this one does
    # (from the folder check on). A cluster is joined after the check.
    started = Pool(jobs) if cluster is None else None
    try:
        _check_out(out_dir, replace=False)
        with _user_errors():  # a cluster that cannot be used: exit 2, before any output
            pool = started or Pool(jobs, cluster)
    except BaseException:
        if started is not None:
            started.close()
        raise
    with _user_errors(), closing(pool):  # the processes stop whatever the outcome
        from optimize.collector import loading, skip_last_pass

        with loading():  # the engine, Optuna and the scenario: no garbage, much to load
            from rich.markup import escape

            # The engine before Optuna: Mesa's import looks through every module loaded so far
            # for its loggers, a second before Optuna and SQLAlchemy are in, a fraction of it now.
            import sim.runner  # noqa: F401
            from optimize.leave_out import import_optuna

            import_optuna()  # before any module of the optimizer imports it
            from optimize import StudyConfig, optimize_scenario
            from optimize.report import (
                StudyDrawing,
                best_table,
                load_plotting_without_undrawn,
                result_dict,
                write_study_outputs,
            )
            from optimize.study import (
                StudyError,
                check_sampler,
                close_databases,
                default_storage,
                masked,
            )
            from sim import ScenarioSource

            try:
                check_sampler(sampler)
            except ValueError as exc:
                _fail(str(exc))
            source = ScenarioSource.from_file(scenario).with_overrides(overrides or [])
            source.scenario  # noqa: B018  (refuse bad input before any output)
            try:
                storage = storage or default_storage(out_dir)
            except StudyError as exc:
                _fail(escape(str(exc)))
            config = StudyConfig.of_source(
                source,
                storage=storage,
                study_name=study or scenario.stem,
                sampler=sampler,
                seed=seed,
                replications=replications,
                trials=trials,
                timeout=timeout,
                prune=prune,
                jobs=jobs,
                cluster=cluster,
            )
        drawn: list[StudyDrawing] = []

        def draw(study: optuna.Study) -> None:  # while the re-evaluation runs elsewhere
            load_plotting_without_undrawn()  # this process draws nothing else
            goals = source.scenario.objective.goals
            drawn.append(StudyDrawing.of(study, goals, source.scenario.currency))

        try:
            with _trial_bar(trials) as progress:
                result = optimize_scenario(
                    config,
                    top_k=top_k,
                    reeval_replications=reeval,
                    progress=progress,
                    pool=pool,
                    meanwhile=draw,
                )
        except KeyboardInterrupt:
            _interrupted(masked(config.storage))
        except StudyError as exc:  # the study holds trials of something else
            _fail(escape(str(exc)))
        written = write_study_outputs(result, out_dir, drawn[0])  # drawn during reevaluation
        skip_last_pass(close_databases)  # done: the process may end without it
    if as_json:
        out.print(
            json.dumps(result_dict(result), indent=2, sort_keys=True),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    out.print(best_table(result))
    c = result.counts
    out.print(
        f"[dim]{c['finished']} trials finished ({c['complete']} complete, {c['pruned']} pruned); "
        f"study '{escape(config.study_name)}' in {escape(masked(config.storage))}[/]"
    )
    for path in written:
        out.print(f"[dim]wrote {path}[/]")


def _interrupted(storage: str) -> NoReturn:
    """Stop now: every finished trial is already stored, and the study resumes where it was."""
    from rich.markup import escape

    err.print(
        f"[yellow]interrupted[/]: finished trials are kept in {escape(storage)}; "
        "run the same command to resume"
    )
    sys.stderr.flush()
    # A trial's heartbeat thread can outlive an interrupt and block a normal exit; the
    # storage is consistent after every trial, so leave at once.
    os._exit(130)


@contextmanager
def _trial_bar(total: int) -> Iterator[Callable[[int, int, float | None], None]]:
    """Trials done, best so far and time left, on stderr."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("trials"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task("trials", total=total, best="—")
    with bar:

        def update(done: int, _total: int, best: float | None) -> None:
            bar.update(task, completed=done, best="—" if best is None else f"{best:.4g}")

        yield update


@app.command()
def compare(
    scenarios: Annotated[
        list[Path],
        typer.Argument(help="Scenario files; the first is the reference.", show_default=False),
    ],
    versus: Annotated[
        list[str] | None,
        typer.Option(
            "--vs",
            metavar="PATH=VALUE[;PATH=VALUE…]",
            help="Another design: the first scenario with these overrides (repeatable).",
        ),
    ] = None,
    variants: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            metavar="NAME",
            help="Another design: a variant from the first scenario's variants (repeatable).",
        ),
    ] = None,
    names: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            metavar="NAME",
            help="Name the designs in order: files, then --vs, then --variant (repeatable).",
        ),
    ] = None,
    replications: Annotated[
        int | None,
        typer.Option("--replications", "-n", min=2, help="Per design (default: the first's)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (default: the first's).")] = None,
    jobs: JobsOpt = 1,
    cluster: ClusterOpt = None,
    overrides: SetOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the comparison as JSON on stdout, nothing else.")
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Write compare.json (and with --report compare.html) here."),
    ] = None,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="Also write compare.html, charts that open offline (default --out FIRST-compare).",
        ),
    ] = False,
) -> None:
    """Run designs on the same seeds and show every KPI side by side, with paired intervals."""
    if report and out_dir is None:
        out_dir = Path(f"{scenarios[0].stem}-compare")
        err.print(f"[dim]no --out given: writing the comparison and its report to {out_dir}/[/]")
    _check_out(out_dir, replace=True)
    with _user_errors():
        from sim.compare import compare_scenarios, designs_to_compare
        from sim.executor import Executor

        try:
            designs, labels = designs_to_compare(
                scenarios,
                versus=versus or [],
                variants=variants or [],
                overrides=overrides or [],
                names=names or [],
            )
        except ValueError as exc:  # too few designs (a bad file raises ScenarioError)
            _fail(str(exc))
        n = replications or designs[0].replications
        with (
            Executor(jobs, cluster) as executor,
            _progress_bar("simulating designs", n * len(designs)) as progress,
        ):
            comparison = compare_scenarios(
                designs,
                labels,
                replications=n,
                seed=seed,
                jobs=jobs,
                progress=progress,
                executor=executor,
            )
        written = _published(lambda: _write_comparison(comparison, out_dir, report=report))
    if as_json:
        from sim.report import comparison_json

        out.print(
            comparison_json(comparison), end="", markup=False, highlight=False, soft_wrap=True
        )
        return
    from sim.report import comparison_table, comparison_verdicts

    for design in range(1, len(labels)):
        out.print(comparison_table(comparison, design))
    for line in comparison_verdicts(comparison):
        out.print(line, markup=False, highlight=False)
    for path in written:
        out.print(f"[dim]wrote {path}[/]")


def _write_comparison(comparison: Comparison, out_dir: Path | None, *, report: bool) -> list[Path]:
    if out_dir is None:
        return []
    from sim._atomic import staged_folder
    from sim.compare_report import JSON_FILE, REPORT_FILE, comparison_html
    from sim.report import comparison_json

    files = {JSON_FILE: comparison_json(comparison)}
    if report:
        files[REPORT_FILE] = comparison_html(comparison)
    info = {
        "kind": "compare",
        "designs": list(comparison.labels),
        "seed": comparison.seed,
        "replications": comparison.replications,
    }
    with staged_folder(out_dir, info) as stage:
        stage.write(files)
    return [out_dir / name for name in files]


@app.command()
def sensitivity(
    scenario: ScenarioArg,
    ranges: Annotated[
        list[str] | None,
        typer.Option(
            "--range",
            metavar="PATH=LO:HI",
            help="Vary a number uniformly between LO and HI (repeatable; adds to the "
            "scenario's own uncertain quantities).",
        ),
    ] = None,
    kpis: Annotated[
        list[str] | None,
        typer.Option("--kpi", metavar="KPI", help="A KPI to analyze (repeatable; default profit)."),
    ] = None,
    versus: Annotated[
        list[str] | None,
        typer.Option(
            "--vs",
            metavar="PATH=VALUE[;PATH=VALUE…]",
            help="A design to choose against, for the value of information (repeatable; "
            "default: the scenario's variants).",
        ),
    ] = None,
    reps: Annotated[
        int, typer.Option(min=2, help="Replications per tornado and spider point.")
    ] = 8,
    sobol_n: Annotated[
        int, typer.Option("--sobol-n", min=2, help="Sobol' base sample (a power of 2).")
    ] = 64,
    voi_n: Annotated[
        int, typer.Option("--voi-n", min=2, help="Assumption draws per design for the value.")
    ] = 200,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (default: the scenario's).")] = None,
    overrides: SetOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the analysis as JSON on stdout, nothing else.")
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write sensitivity.json, evaluations.csv and sensitivity.html here."
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Run the evaluations on a Dask scheduler (tcp://host:port); same results.",
        ),
    ] = None,
    jobs: JobsOpt = 1,
) -> None:
    """Which assumption matters: tornado, spider, Sobol indices, loss region, value of info."""
    _check_out(out_dir, replace=True)
    with _user_errors():
        from sim import ScenarioSource
        from sim.sensitivity import analyze, planned_runs
        from sim.sensitivity_report import (
            region_lines,
            sensitivity_json,
            sobol_table,
            tornado_table,
            value_table,
            write_sensitivity,
        )

        extra = []
        for text in ranges or []:
            key, sep, bounds = text.partition("=")
            lo, colon, hi = bounds.partition(":")
            if not (sep and colon):
                _fail(f"--range takes PATH=LO:HI, got {escape(text)}")
            extra.append(f"{key.strip()}={{between: [{lo.strip()}, {hi.strip()}]}}")
        source = ScenarioSource.from_file(scenario).with_overrides([*(overrides or []), *extra])
        spec = source.scenario
        designs = {}
        if versus:
            designs["base"] = spec
            for text in versus:
                parts = [part.strip() for part in text.split(";") if part.strip()]
                designs[text] = source.with_overrides(parts).scenario
        elif spec.variants:
            designs = {"base": spec}
            designs.update({name: source.with_variant(name).scenario for name in spec.variants})
        asked = kpis or ["profit"]
        from sim import assumptions

        d = len(assumptions.quantities(spec))
        total = sum(
            planned_runs(d, reps=reps, sobol_n=sobol_n, designs=len(designs), voi_n=voi_n).values()
        )
        try:
            with _progress_bar(f"sensitivity of {escape(spec.name)}", total) as progress:
                result = analyze(
                    spec,
                    kpis=asked,
                    seed=seed,
                    reps=reps,
                    sobol_n=sobol_n,
                    designs=designs,
                    voi_n=voi_n,
                    progress=progress,
                    cluster=cluster,
                    jobs=jobs,
                )
        except (ValueError, KeyError) as exc:
            _fail(escape(str(exc)))
        written = (
            _published(lambda: write_sensitivity(result, out_dir)) if out_dir is not None else []
        )
    if as_json:
        out.print(sensitivity_json(result), end="", markup=False, highlight=False, soft_wrap=True)
        return
    for kpi in asked:
        out.print(tornado_table(result, kpi))
        out.print(sobol_table(result, kpi))
    for line in region_lines(result):
        out.print(escape(line), highlight=False)
    value = value_table(result)
    if value is not None:
        out.print(value)
    for path in written:
        out.print(f"[dim]wrote {path}[/]")


@app.command()
def trace(
    scenario: ScenarioArg,
    visitor: Annotated[
        list[int] | None,
        typer.Option("--visitor", min=0, help="Show this visitor (repeatable)."),
    ] = None,
    sample: Annotated[
        int, typer.Option("--sample", min=1, help="How many visitors to pick (seeded).")
    ] = 3,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            metavar="KEY=VALUE",
            help=(
                "Pick among visitors who match, e.g. bought=core, declined=tripwire, "
                "churned=club, segment=hobbyist, channel=ads, lead=false (repeatable; "
                "default lead=true)."
            ),
        ),
    ] = None,
    replication: Annotated[
        int, typer.Option("--replication", min=0, help="Which replication to read.")
    ] = 0,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (default: the scenario's).")] = None,
    overrides: SetOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the journeys as JSON on stdout, nothing else.")
    ] = False,
) -> None:
    """Tell the journeys of a few visitors, day by day, from one replication's event log."""
    filters = where if where is not None else ["lead=true"]
    with _user_errors():
        from sim import load_scenario
        from sim.trace import trace_scenario

        spec = load_scenario(scenario, overrides=overrides or [])
        traced = trace_scenario(spec, replication=replication, seed=seed)
        try:
            ids = traced.select(visitors=visitor or [], where=filters, sample=sample)
        except ValueError as exc:
            _fail(str(exc))
        journeys = [traced.journey(v) for v in ids]
    if as_json:
        text = json.dumps([j.to_dict() for j in journeys], indent=2, allow_nan=False)
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    from sim.report import journey_view

    if not visitor:
        matching = traced.count_matching(filters)
        out.print(
            f"[dim]{len(ids)} of {matching:,} visitors with {' and '.join(filters)} in "
            f"replication {replication} of seed {traced.seed} ({len(traced.visitors):,} "
            "visitors in all)[/]"
        )
    for journey in journeys:
        out.print()
        out.print(journey_view(journey, spec.currency))


@app.command()
def studio(
    scenario: Annotated[
        Path | None,
        typer.Argument(help="The scenario file (default: the lesson's).", show_default=False),
    ] = None,
    lesson: Annotated[
        int | None,
        typer.Option(
            min=1, help="Open a tutorial lesson: its scenario and the numbers it changes."
        ),
    ] = None,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (a free one if taken).")
    ] = 8050,
) -> None:
    """Open a page where a class changes a number and watches the funnel answer."""
    if scenario is None and lesson is None:
        _fail("give a scenario file, or --lesson N")
    with _user_errors():
        try:
            from sim.studio import create_app, make_server
            from sim.studio.lessons import lesson as find_lesson
        except ImportError as exc:  # dash is an optional extra
            _fail(f"the studio needs {exc.name}: pip install -e '.[studio]'")
        options: dict[str, Any] = {}
        if lesson is not None:
            try:
                found = find_lesson(lesson)
            except (FileNotFoundError, KeyError) as exc:
                _fail(str(exc.args[0]))
            scenario = scenario or found.scenario
            options = {
                "controls": found.controls,
                "replications": found.replications,
                "lesson": f"Lesson {found.number}: {found.title}"
                + (f" (pin A, then try the variant {found.variant})" if found.variant else ""),
            }
        assert scenario is not None
        server = make_server(create_app(scenario, **options), port=port)
    host, bound = server.server_address[:2]
    # an IP server's host is a str (typeshed allows bytes for other socket families)
    out.print(f"funnelsim studio: http://{host}:{bound}/  (Ctrl-C stops it)", highlight=False)  # type: ignore[str-bytes-safe]
    try:
        server.serve_forever()  # returns on Ctrl-C (the server takes the interrupt itself)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    out.print("stopped", highlight=False)


@app.command()
def new(
    path: Annotated[
        Path, typer.Argument(help="Where to write the scenario.", show_default=True)
    ] = Path("scenario.yaml"),
    template: Annotated[
        str,
        typer.Option(
            "--template", "-t", help="tripwire, webinar, saas, b2b or eshop.", show_default=True
        ),
    ] = "tripwire",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter scenario to edit, from a template."""
    from sim._atomic import write_files
    from sim.templates import template_text

    try:
        text = template_text(template)
    except ValueError as exc:
        _fail(str(exc))
    if path.exists() and not force:
        _fail(f"{path} exists; choose another path or add --force to overwrite it")
    if not path.parent.is_dir():
        _fail(f"no folder {path.parent} to write {path.name} into")
    schema, files = _schema_for(path)
    header = f"# yaml-language-server: $schema={schema}\n"  # completion and hover in editors
    write_files(path.parent, {**files, path.name: header + text})
    for name in files:
        out.print(
            f"wrote {path.parent / name} (the format, for editor completion)", highlight=False
        )
    out.print(f"wrote {path} from the {template} template; next:", highlight=False)
    out.print(f"  sim validate {path}\n  sim run {path}", highlight=False)


def _schema_for(path: Path) -> tuple[str, dict[str, str]]:
    """The schema a new file points to, and the files to write for it.

    The project's docs/scenario.schema.json when the file is inside a checkout; else a
    scenario.schema.json written beside the file (kept if one is there already).
    """
    folder = path.parent.resolve()
    for above in [folder, *folder.parents]:
        shipped = above / "docs" / "scenario.schema.json"
        if shipped.is_file():
            return Path(os.path.relpath(shipped, folder)).as_posix(), {}
    name = "scenario.schema.json"
    if (folder / name).exists():
        return name, {}
    from sim.keys import scenario_schema

    return name, {name: json.dumps(scenario_schema(), indent=2, sort_keys=True) + "\n"}


@app.command()
def validate(
    files: Annotated[
        list[Path], typer.Argument(help="Scenario files to check.", show_default=False)
    ],
    overrides: SetOpt = None,
) -> None:
    """Check scenario files without running them; exit 2 if any has a problem."""
    from sim import load_scenario

    codes = []
    for path in files:
        try:
            with _user_errors():
                spec = load_scenario(path, overrides=overrides or [])
        except typer.Exit as exc:  # reported; go on with the next file
            codes.append(exc.exit_code)
            continue
        out.print(
            f"[green]ok[/] {escape(str(path))}: {escape(spec.name)} ({len(spec.funnel)} steps)",
            highlight=False,
        )
    if codes:
        raise typer.Exit(max(codes))


@app.command()
def calibrate(
    scenario: ScenarioArg,
    pilot: Annotated[
        Path | None,
        typer.Argument(
            help="The pilot's data (CSV, docs/calibration.md); leave out with --plan.",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write calibrated.yaml (the fitted scenario) and predictive.html here.",
        ),
    ] = None,
    draws: Annotated[int, typer.Option(min=64, help="Prior draws for importance sampling.")] = 2
    ** 16,
    check: Annotated[
        int,
        typer.Option(
            "--check",
            min=0,
            help="Replays of the pilot from the posterior for the predictive check (0: none).",
        ),
    ] = 50,
    plan: Annotated[
        int | None,
        typer.Option(
            "--plan",
            metavar="DAYS",
            min=1,
            help="Plan a pilot of DAYS days of traffic: the posterior widths to expect.",
        ),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget",
            min=0,
            help="With --plan: the pilot's whole traffic budget (default: "
            "the scenario's daily budgets).",
        ),
    ] = None,
    pilots: Annotated[
        int, typer.Option("--pilots", min=2, help="With --plan: pilots simulated from the priors.")
    ] = 64,
    particles: Annotated[
        int | None,
        typer.Option(
            "--particles",
            min=10,
            help="ABC-SMC particles a generation, for steps with no exact likelihood; that "
            "fit runs on one core (default 300; with --plan 50).",
            show_default=False,
        ),
    ] = None,
    generations: Annotated[
        int | None,
        typer.Option(
            "--generations",
            min=1,
            max=50,
            help="ABC-SMC generations at most (default 6; with --plan 3).",
            show_default=False,
        ),
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            metavar="FILE",
            help="Keep the ABC-SMC generations in this SQLite file; given the file of an "
            "interrupted fit, resume it (not with --plan).",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, help="Seed of the fit, the replays and the plan.")
    ] = 0,
    overrides: SetOpt = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Run the replays or the planned pilots on a Dask scheduler (tcp://host:port); "
            "same results.",
        ),
    ] = None,
    jobs: JobsOpt = 1,
) -> None:
    """Fit the scenario's `calibrate:` parameters to a pilot's data, or plan a pilot (--plan)."""
    _check_out(out_dir, replace=True)
    if (pilot is None) == (plan is None):
        _fail("give a pilot file to calibrate on, or --plan DAYS to plan one (not both)")
    if budget is not None and plan is None:
        _fail("--budget sizes a planned pilot: use it with --plan DAYS")
    if history is not None:
        _check_history(history, plan)
    from sim import ScenarioSource
    from sim.executor import Executor

    if cluster is not None:
        with _user_errors():  # a cluster that cannot be used fails before the fit
            Executor(jobs, cluster).close()

    with _user_errors():
        source = ScenarioSource.from_file(scenario).with_overrides(overrides or [])
        spec = source.scenario
    from sim.calibrate_abc import AbcSettings

    if plan is not None:
        from sim.plan import PLAN_ABC

        abc = _abc_settings(PLAN_ABC, particles, generations)
        _plan_pilot(spec, plan, budget, pilots, _Runs(draws, seed, jobs, cluster, abc))
        return
    assert pilot is not None
    abc = dataclasses.replace(
        _abc_settings(AbcSettings(), particles, generations), seed=seed, history=history
    )
    _fit_pilot(source, scenario, pilot, out_dir, check, _Runs(draws, seed, jobs, cluster, abc))


def _abc_settings(base: AbcSettings, particles: int | None, generations: int | None) -> AbcSettings:
    """``base`` with the particles and generations the command line set."""
    return dataclasses.replace(
        base,
        population=particles or base.population,
        generations=generations or base.generations,
    )


def _check_history(history: Path, plan: int | None) -> None:
    """Refuse an ABC-SMC history that cannot be kept, before any work (exit 2)."""
    if plan is not None:
        _fail("--history keeps one fit's generations: a plan fits many pilots, leave it out")
    if history.is_dir():
        _fail(f"--history {escape(str(history))} is a folder: name a file (say abc.db)")
    if not history.parent.is_dir():
        _fail(f"--history {escape(str(history))}: its folder does not exist")
    if history.exists() and history.stat().st_size > 0:
        with history.open("rb") as head:
            if head.read(16) != b"SQLite format 3\x00":
                _fail(
                    f"--history {escape(str(history))} is not an SQLite history: "
                    "name a new file or one an earlier fit kept"
                )


def _ticker(progress: Callable[[int, int], None], total: int) -> Callable[[], None]:
    done = [0]

    def tick() -> None:
        done[0] += 1
        progress(done[0], total)

    return tick


@dataclasses.dataclass(frozen=True)
class _Runs:
    """How the calibrate command runs its fits and replays, whether it plans or fits."""

    draws: int  # posterior draws of the exact fit
    seed: int
    jobs: int
    cluster: str | None
    abc: AbcSettings  # simulation-based fitting of the steps without an exact likelihood


def _plan_pilot(spec: Any, days: int, budget: float | None, pilots: int, runs: _Runs) -> None:
    from rich.table import Table

    from sim.plan import chunk_size, plan_pilot, simulated_steps

    abc = runs.abc
    with _user_errors():
        slow = simulated_steps(spec)
    if slow:
        err.print(
            f"[yellow]no exact likelihood at {escape(', '.join(slow))}:[/] each of the {pilots} "
            f"planned pilots is fitted by ABC-SMC ({abc.population} particles, "
            f"{abc.generations} generations at most, one core each), which takes seconds to "
            "minutes a pilot; fewer --pilots, --particles or --generations, or more --jobs, "
            "make it faster",
            highlight=False,
            soft_wrap=True,
        )
    items = -(-pilots // chunk_size(spec))
    with (
        _user_errors(),
        _progress_bar(f"planning a pilot of {days} days", items) as progress,
    ):
        result = plan_pilot(
            spec,
            days,
            budget,
            pilots=pilots,
            draws=runs.draws,
            seed=runs.seed,
            jobs=runs.jobs,
            cluster=runs.cluster,
            finished=_ticker(progress, items),
            abc=abc,
        )
    spend = "the scenario's daily budgets" if budget is None else f"a budget of {budget:,.2f}"
    out.print(
        f"A pilot of {days} days with {escape(spend)}, simulated {pilots} times from the priors:",
        highlight=False,
    )
    from rich.table import Column

    table = Table(
        Column("parameter", no_wrap=True, min_width=max(len(w.path) for w in result.widths)),
        "prior 90%",
        "posterior 90%",
        "10th…90th",
        "narrower",
        "identified",
        caption="widths of 90% intervals; posterior: the mean over the simulated pilots ± its "
        "standard error, and its 10th…90th percentile; identified: share of the pilots",
        caption_justify="left",
    )
    for w in result.widths:
        table.add_row(
            escape(w.path),
            f"{w.prior_width:.3g}",
            f"{w.expected_width:.3g} ± {w.standard_error:.1g}",
            f"{w.spread[0]:.3g} … {w.spread[1]:.3g}",
            f"{1 - w.expected_width / w.prior_width:.0%}",
            f"{w.identified:.0%}",
        )
    out.print(table)
    reached = ", ".join(f"{escape(k)} {v:,.0f}" for k, v in result.reached.items())
    out.print(f"reached on average: {reached}", highlight=False)


def _fit_pilot(
    source: Any, scenario: Path, pilot: Path, out_dir: Path | None, check: int, runs: _Runs
) -> None:
    from rich.table import Table

    from sim._atomic import staged_folder
    from sim.calibrate import calibrate as fit_pilot
    from sim.calibrate import calibrated_source, likelihood_steps, simulation_parameters
    from sim.calibrate_abc import AbcSettings
    from sim.pilot import read_pilot

    abc = runs.abc
    with _user_errors():
        spec = source.scenario
        data = read_pilot(pilot, spec)
        slow = likelihood_steps(spec, data)[1]
        if not simulation_parameters(spec, slow):
            slow = []
    if slow and abc.history is not None and abc.history.is_file() and abc.history.stat().st_size:
        err.print(f"[dim]resuming the fit kept in {escape(str(abc.history))}[/]", highlight=False)
    elif not slow and abc != AbcSettings(seed=abc.seed):
        err.print(
            "[dim]every step has an exact likelihood: --particles, --generations and "
            "--history are not used[/]"
        )
    label = f"ABC-SMC at {escape(', '.join(slow))}, generations"
    # the long part, fitting by simulation: a progress bar over its generations
    bar = _progress_bar(label, abc.generations) if slow else nullcontext()
    with _user_errors(), bar as progress:
        abc = dataclasses.replace(abc, progress=progress)
        fit = fit_pilot(spec, data, draws=runs.draws, seed=runs.seed, abc=abc)
        posterior = calibrated_source(source, fit)
    table = Table("parameter", "prior median [90%]", "posterior median [90%]", "moved", "")
    for p in fit.parameters:
        notes = [] if p.method == "exact" else [f"by {p.method}"]
        notes += [] if p.identified else ["not identified by this pilot"]
        table.add_row(
            escape(p.path),
            _interval(p.prior),
            _interval(p.posterior),
            f"{p.moved:+.2f}",
            "; ".join(notes),
        )
    out.print(table)
    used = ", ".join(fit.steps_used) or "none"
    out.print(
        f"steps fitted: {escape(used)}; effective sample size {fit.effective_sample_size:.0f} "
        f"of {fit.draws} draws",
        highlight=False,
    )
    if fit.simulated:
        out.print(
            f"no exact likelihood at {escape(', '.join(fit.simulated))}: fitted by ABC-SMC on "
            f"{fit.simulations} simulated pilots in {fit.generations} generations "
            f"(at most {abc.generations})",
            highlight=False,
        )
    for c in fit.combinations:
        names = ", ".join(p.removeprefix(f"funnel.{c.step}.") for p in c.paths)
        seen = ", seen at one price" if "price" in c.formula else ""
        out.print(
            f"[yellow]not separately identifiable:[/] {escape(names)} (all act on "
            f"{escape(c.step)}'s conversion{seen}). The pilot pins down only "
            f"{escape(c.step)}'s conversion probability, median [90%]:",
            highlight=False,
        )
        out.print(
            f"  {escape(c.step)}: {escape(c.formula)} = {_interval(c.posterior)}  "
            f"(prior {_interval(c.prior)})",
            highlight=False,
        )
    if fit.effective_sample_size < 100:
        out.print("[yellow]few effective draws: raise --draws or narrow the priors[/]")
    files = {}
    if check:
        from sim.predictive import CHUNK, observed_days, predictive_check
        from sim.predictive_report import REPORT_FILE, predictive_page, predictive_table

        items = -(-check // CHUNK)
        with (
            _user_errors(),
            _progress_bar("replaying the pilot", items) as progress,
        ):
            replayed = predictive_check(
                posterior.scenario,
                observed_days(pilot, spec),
                replications=check,
                seed=runs.seed,
                jobs=runs.jobs,
                cluster=runs.cluster,
                finished=_ticker(progress, items),
            )
        out.print(predictive_table(replayed))
        files[REPORT_FILE] = predictive_page(replayed)
    if out_dir is not None:
        with _user_errors():
            files["calibrated.yaml"] = posterior.dump(
                comment=f"{scenario.name} calibrated on the pilot {pilot.name}"
                + "".join(_combination_note(c) for c in fit.combinations)
            )
        info = {"kind": "calibrate", "draws": fit.draws, "check": check, "seed": runs.seed}
        with staged_folder(out_dir, info) as stage:
            stage.write(files)
        for name in sorted(files):
            out.print(f"[dim]wrote {out_dir / name}[/]")


def _combination_note(c: Combination) -> str:
    """A comment line of calibrated.yaml: what the pilot pinned down in place of ``c.paths``."""
    return (
        f"\nnot separately identifiable: {', '.join(c.paths)}; the pilot pins down "
        f"{c.step}: {c.formula} = {_interval(c.posterior)} (median [90%])"
    )


def _interval(q: tuple[float, float, float]) -> str:
    return f"{q[1]:.4g} [{q[0]:.4g}, {q[2]:.4g}]"


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scenario format (for editor completion)."""
    from sim.keys import scenario_schema

    text = json.dumps(scenario_schema(), indent=2, sort_keys=True)
    out.print(text, markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":  # pragma: no cover
    app()
