"""A run's output folder read back: what ``sim report DIR`` builds the page from.

``sim run --out DIR`` writes summary.json, daily.csv, by_step.csv, by_channel.csv,
by_segment.csv and scenario.yaml (with others); this module reads them and checks that
each has what the report needs, so a wrong or damaged folder is refused with one line
that names the file and the problem. It also checks that the files are those of one run:
each must be the file its manifest.json lists (same SHA-256), nothing else may sit
beside them, and none may be a link that leads out of the folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim._atomic import MANIFEST, read_manifest, sha256
from sim.kpis import headline

if TYPE_CHECKING:
    import pandas as pd

# file -> (text columns, numeric columns) the report reads
_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "daily.csv": ((), ("replication", "day", "cumulative_cash")),
    "by_step.csv": (
        ("step", "kind", "after", "after_event"),
        ("replication", "revenue", "refunds", "cogs", "fees", "gross_profit", "payments"),
    ),
    "by_channel.csv": (
        ("channel", "type"),
        ("replication", "visitors", "leads", "buyers", "revenue", "gross_profit", "spend"),
    ),
    "by_segment.csv": (
        ("segment",),
        (
            *("replication", "visitors", "leads", "buyers", "revenue", "gross_profit"),
            *("subscribers", "churned"),
        ),
    ),
}
_PAGE = "report.html"  # the page built from the other files
_SUMMARY_KEYS = ("scenario", "replications", "seed", "currency", "kpis", "steps")


class RunFolderError(ValueError):
    """The folder is not a complete, readable ``sim run --out`` folder; one line says why."""


@dataclass(frozen=True)
class RunFolder:
    """Everything the report shows, as read from a run's output folder."""

    path: Path
    summary: dict[str, Any]
    daily: pd.DataFrame
    by_step: pd.DataFrame
    by_channel: pd.DataFrame
    by_segment: pd.DataFrame
    scenario_text: str


def read_run_folder(folder: str | Path) -> RunFolder:
    """Read and check a run's output folder.

    Raises:
        RunFolderError: the folder or a file is missing, unreadable, or lacks a column;
            a file is a link out of the folder; or the files are not those of one run.

    Examples:
        >>> read_run_folder("no/such/folder")
        Traceback (most recent call last):
        ...
        sim.run_folder.RunFolderError: no folder no/such/folder
    """
    path = Path(folder)
    if not path.is_dir():
        raise RunFolderError(f"no folder {path}")
    _refuse_links_out(path)
    tables = {name: _read_table(path / name, *cols) for name, cols in _TABLES.items()}
    summary = _read_summary(path / "summary.json")
    _check_together(path, summary, tables)
    _check_manifest(path, summary)
    return RunFolder(
        path=path,
        summary=summary,
        daily=tables["daily.csv"],
        by_step=tables["by_step.csv"],
        by_channel=tables["by_channel.csv"],
        by_segment=tables["by_segment.csv"],
        scenario_text=_read_text(path / "scenario.yaml"),
    )


def _check_together(path: Path, summary: dict[str, Any], tables: dict[str, pd.DataFrame]) -> None:
    """The files describe one run: the same steps, one row per replication and day."""
    unknown = sorted(set(tables["by_step.csv"]["step"]) - set(summary["steps"]))
    if unknown:
        raise RunFolderError(
            f"{path}: by_step.csv and summary.json are of different runs "
            f"(steps {', '.join(unknown)} are not in the summary)"
        )
    if tables["daily.csv"].duplicated(["replication", "day"]).any():
        raise RunFolderError(f"{path / 'daily.csv'} has a replication and day twice")


def _refuse_links_out(path: Path) -> None:
    """No file of the folder may lead out of it (a planted link to a system file)."""
    home = os.path.realpath(path)
    for entry in sorted(os.listdir(path)):
        file = path / entry
        if file.is_symlink() and os.path.dirname(os.path.realpath(file)) != home:
            raise RunFolderError(
                f"{file} is a link to {os.path.realpath(file)}, outside the folder: "
                "refusing to read it (a run folder holds its own files)"
            )


def _check_manifest(path: Path, summary: dict[str, Any]) -> None:
    """The files are those the manifest lists, byte for byte, of the run the summary is."""
    if not (path / MANIFEST).is_file():
        raise RunFolderError(
            f"{path} has no {MANIFEST}, so nothing ties its files to one run: write the "
            "folder with `sim run SCENARIO --out DIR` (folders from older versions need "
            "to be run again)"
        )
    manifest = read_manifest(path)
    if not manifest:
        raise RunFolderError(f"{path / MANIFEST} is not a manifest (no files listed)")
    listed = manifest["files"]
    unlisted = [n for n in sorted(os.listdir(path)) if n != MANIFEST and n not in listed]
    if unlisted:
        raise RunFolderError(
            f"{path} mixes runs: {', '.join(unlisted)} not in its {MANIFEST}; "
            "run again into a new folder"
        )
    for name, digest in sorted(listed.items()):
        if not (path / name).is_file():
            if name == _PAGE:  # built from the others; `sim report` builds it again
                continue
            raise RunFolderError(f"{path} lacks {name}, which its {MANIFEST} lists")
        if sha256(path / name) != digest:
            raise RunFolderError(
                f"{path} mixes runs: {name} is not the file its {MANIFEST} lists "
                "(another checksum); run again into a new folder"
            )
    for key in ("scenario", "seed", "replications"):
        if manifest.get(key) != summary[key]:
            raise RunFolderError(
                f"{path} mixes runs: summary.json says {key} {summary[key]!r}, "
                f"{MANIFEST} says {manifest.get(key)!r}; run again into a new folder"
            )


def _missing(file: Path) -> RunFolderError:
    return RunFolderError(
        f"{file.parent} has no {file.name}: write the folder with "
        "`sim run SCENARIO --out DIR` (runs from before the report need to be run again)"
    )


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _missing(file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"cannot read {file}: {exc}") from None


def _read_summary(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(_read_text(file))
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{file} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{file} is not a run summary (expected a JSON object)")
    absent = [key for key in _SUMMARY_KEYS if key not in data]
    if not absent and not (isinstance(data["kpis"], dict) and isinstance(data["steps"], dict)):
        raise RunFolderError(f"{file} is not a run summary: kpis and steps must be objects")
    absent += [f"kpis.{k}" for k in headline() if k not in data.get("kpis", {})]
    if absent:
        raise RunFolderError(f"{file} is not a run summary: no {', '.join(absent)}")
    figures = [(f"kpis.{k}", v) for k, v in data["kpis"].items()]
    figures += [
        (f"steps.{step}.{k}", v)
        for step, tallies in data["steps"].items()
        for k, v in tallies.items()
        if k in ("reached", "converted")
    ]
    for name, figure in figures:
        if not isinstance(figure, dict) or not {"mean", "lo", "hi"} <= set(figure):
            raise RunFolderError(f"{file}: {name} lacks mean, lo or hi")
    return data


def _read_table(file: Path, text: tuple[str, ...], numeric: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd  # here: only reading a run's tables needs it

    if not file.is_file():
        raise _missing(file)
    try:
        # names such as "NA" or "null" stay names; only empty fields are missing values
        table = pd.read_csv(
            file, keep_default_na=False, na_values=[""], dtype=dict.fromkeys(text, str)
        )
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunFolderError(f"cannot read {file}: {reason}") from None
    absent = [col for col in (*text, *numeric) if col not in table.columns]
    if absent:
        raise RunFolderError(f"{file} lacks the column(s) {', '.join(absent)}")
    for col in numeric:
        if not pd.api.types.is_numeric_dtype(table[col]):
            raise RunFolderError(f"{file}: column {col} holds something other than numbers")
    if table.empty:
        raise RunFolderError(f"{file} has no rows")
    for col in text:
        table[col] = table[col].fillna("")
    return table
