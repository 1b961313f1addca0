"""One executor for every many-run command: the same bytes here, in processes, on a cluster."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from cli import app

RUN = ["run", "scenarios/quickstart.yaml", "-n", "6", "--seed", "3", "--json"]
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
