"""One executor for every many-run command: the same bytes here, in processes, on a cluster."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from optimize import StudyConfig, optimize_scenario, report

RUN = ["run", "scenarios/quickstart.yaml", "-n", "6", "--seed", "3", "--json"]
PRICE = Path("scenarios/quickstart.yaml").read_text() + (
    "search:\n  funnel.course.price: {low: 20, high: 120}\n"
)
COMPARE = ["compare", "scenarios/quickstart.yaml", "--vs", "funnel.course.price=55", "-n", "4"]


@pytest.mark.slow
def test_run_and_compare_give_the_same_json_in_process_in_processes_and_on_a_cluster(
    dask_scheduler: str,
) -> None:
    for args in (RUN, [*COMPARE, "--json"]):
        here = CliRunner().invoke(app, args)
        assert here.exit_code == 0, here.output
        for where in (["--jobs", "2"], ["--cluster", dask_scheduler]):
            there = CliRunner().invoke(app, [*args, *where])
            assert there.exit_code == 0, (where, there.output)
            assert there.stdout == here.stdout, (args[0], where)
    # the optimizer: one study process, the trials' replications on the cluster
    here_study, there_study = (
        _study(StudyConfig(PRICE, "price", storage="memory", trials=3, replications=4, cluster=c))
        for c in (None, dask_scheduler)
    )
    assert there_study == here_study


def _study(config: StudyConfig) -> dict[str, object]:
    shown = report.result_dict(optimize_scenario(config, top_k=2))
    shown.pop("storage")
    return shown


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there once the socket is closed


@pytest.mark.parametrize(
    ("address", "said"),
    [
        (f"tcp://127.0.0.1:{_closed_port()}", "cannot reach a Dask scheduler"),
        ("nonsense", "is not a scheduler address"),
        ("http://127.0.0.1:8786", "is not a scheduler address"),
    ],
)
@pytest.mark.parametrize("command", [RUN, COMPARE, ["optimize", "scenarios/pastry_school.yaml"]])
def test_a_bad_or_unreachable_cluster_is_a_clear_error(
    address: str, said: str, command: list[str], tmp_path: object
) -> None:
    pytest.importorskip("distributed")
    result = CliRunner().invoke(app, [*command, "--cluster", address])
    assert result.exit_code == 2, result.output
    assert said in result.stderr
    assert "Traceback" not in result.output
