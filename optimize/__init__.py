r"""The optimizer: search a scenario's prices, budgets and offer sequences (``sim optimize``).

Examples:
    >>> from pathlib import Path
    >>> from optimize import StudyConfig, optimize_scenario
    >>> text = Path("scenarios/quickstart.yaml").read_text()
    >>> text += "search:\n  funnel.course.price: {low: 20, high: 120}\n"
    >>> config = StudyConfig(text, "quickstart", storage="memory", trials=4,
    ...                      replications=2)
    >>> result = optimize_scenario(config, top_k=2)
    >>> result.best.trial in range(4)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import optuna

    from optimize.evaluate import OptimizeResult
    from optimize.pool import Pool
    from optimize.search import Progress
    from optimize.study import StudyConfig

__all__ = ["OptimizeResult", "StudyConfig", "optimize_scenario"]


def optimize_scenario(
    config: StudyConfig,
    *,
    top_k: int = 5,
    reeval_replications: int | None = None,
    progress: Progress | None = None,
    pool: Pool | None = None,
    meanwhile: Callable[[optuna.Study], object] | None = None,
) -> OptimizeResult:
    """Run (or resume) the study, then re-evaluate its top designs on fresh seeds.

    Args:
        config: the scenario, storage, sampler, trials and workers.
        top_k: how many of the best trials to re-evaluate.
        reeval_replications: replications of the re-evaluation (default: twice the search's).
        progress: called as ``progress(finished, target, best_value)`` as trials finish.
        pool: the simulation processes (default: ``config.jobs`` of them, closed at the
            end); pass one started early to let its processes start while this one loads.
        meanwhile: called with the finished study while the simulation processes
            re-evaluate its top designs (``optimize.evaluate.reevaluate``).

    Raises:
        ScenarioError: the scenario (or its search section) is invalid.
        ValueError: no trial completed within the constraints.
    """
    from optimize.evaluate import reevaluate, submit_baseline
    from optimize.pool import Pool
    from optimize.study import load_space, run_workers

    own = pool is None
    pool = pool or Pool(
        config.jobs, config.cluster
    )  # one pool for the search and the re-evaluation
    try:
        space, scenario = load_space(config)
        # the baseline's re-evaluation first: a simulation process runs it while this one
        # opens the study
        baseline = submit_baseline(config, scenario, pool, reeval_replications)
        study = run_workers(config, progress, pool)
        return reevaluate(
            config,
            space,
            scenario,
            study,
            top_k=top_k,
            reeval_replications=reeval_replications,
            pool=pool,
            baseline=baseline,
            meanwhile=meanwhile,
        )
    finally:
        if own:
            pool.close()


def __getattr__(name: str) -> Any:
    """The package's classes, imported when first used.

    Importing ``optimize`` stays light, so a simulation process (``optimize.pool``) does
    not load Optuna and the database layer it never uses.
    """
    if name == "StudyConfig":
        from optimize.study import StudyConfig

        return StudyConfig
    if name == "OptimizeResult":
        from optimize.evaluate import OptimizeResult

        return OptimizeResult
    raise AttributeError(f"module 'optimize' has no attribute {name!r}")
