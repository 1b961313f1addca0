r"""The optimizer: search a scenario's prices, budgets and offer sequences (``sim optimize``).

Examples:
    >>> from optimize import StudyConfig, optimize_scenario
    >>> text = open("scenarios/quickstart.yaml").read()
    >>> text += "search:\\n  funnel.course.price: {low: 20, high: 120}\\n"
    >>> config = StudyConfig(text, "quickstart", storage="memory", trials=4,
    ...                      replications=2)
    >>> result = optimize_scenario(config, top_k=2)
    >>> result.best.trial in range(4)
    True
"""

from __future__ import annotations

from optimize.evaluate import OptimizeResult, reevaluate
from optimize.study import Progress, StudyConfig, load_space, run_workers

__all__ = ["OptimizeResult", "StudyConfig", "optimize_scenario"]


def optimize_scenario(
    config: StudyConfig,
    *,
    top_k: int = 5,
    reeval_replications: int | None = None,
    progress: Progress | None = None,
) -> OptimizeResult:
    """Run (or resume) the study, then re-evaluate its top designs on fresh seeds.

    Args:
        config: the scenario, storage, sampler, trials and workers.
        top_k: how many of the best trials to re-evaluate.
        reeval_replications: replications of the re-evaluation (default: twice the search's).
        progress: called as ``progress(finished, target, best_value)`` as trials finish.

    Raises:
        ScenarioError: the scenario (or its search section) is invalid.
        ValueError: no trial completed within the constraints.
    """
    space, scenario = load_space(config)
    study = run_workers(config, progress)
    return reevaluate(
        config,
        space,
        scenario,
        study,
        top_k=top_k,
        reeval_replications=reeval_replications,
    )
