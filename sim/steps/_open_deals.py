"""Today's pipeline: the open deals a team already has, read from a CSV a CRM exports.

Columns (a header row, then one row per deal; other columns are ignored):

- ``stage``: the id of the stage (or payment) step the deal is in;
- ``days_in_stage``: whole days it has been there already (0 or more);
- ``owner``: the rep of the sales step's team who owns it;
- ``amount``: what the deal is worth (more than 0).

A problem is reported with the file, the row (the header is row 1) and the column.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationInfo

from sim.spec import MAX_AMOUNT, MAX_DAYS, Spec

COLUMNS = ("stage", "days_in_stage", "owner", "amount")
MAX_DEALS = 100_000
MAX_BYTES = 20_000_000


class OpenDeal(Spec):
    """One open deal of the CSV, with the row it came from."""

    row: int
    stage: str
    days_in_stage: Annotated[int, Field(ge=0, le=MAX_DAYS)]
    owner: str
    amount: Annotated[float, Field(gt=0, le=MAX_AMOUNT)]


class OpenDeals(Spec):
    """The open deals of one CSV file."""

    file: str
    deals: tuple[OpenDeal, ...]

    def where(self, deal: OpenDeal, column: str) -> str:
        """``deals.csv row 3, column owner``: where a value of the file is."""
        return f"{self.file} row {deal.row}, column {column}"


def read_open_deals(value: Any, info: ValidationInfo) -> Any:
    """A path in the scenario (relative to the scenario's file) → the deals it holds.

    Raises:
        ValueError: the file cannot be read, lacks a column, or a value is not allowed.
    """
    if not isinstance(value, str):
        return value  # already read (a scenario validated again), or wrong: the model says
    base = (info.context or {}).get("base")
    path = Path(value) if base is None or Path(value).is_absolute() else Path(base) / value
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"{value}: larger than {MAX_BYTES:,} bytes")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{value}: cannot be read ({exc.__class__.__name__})") from None
    return {"file": value, "deals": _rows(value, text)}


def _rows(name: str, text: str) -> list[OpenDeal]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ValueError(
            f"{name} row 1: missing column {', '.join(missing)} (the columns: {', '.join(COLUMNS)})"
        )
    deals = []
    for i, raw in enumerate(reader, start=2):
        if i - 1 > MAX_DEALS:
            raise ValueError(f"{name}: more than {MAX_DEALS:,} deals")
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        deals.append(
            OpenDeal(
                row=i,
                stage=_text(name, i, row, "stage"),
                days_in_stage=int(_number(name, i, row, "days_in_stage", whole=True)),
                owner=_text(name, i, row, "owner"),
                amount=_number(name, i, row, "amount"),
            )
        )
    return deals


def _text(name: str, i: int, row: dict[str, str], column: str) -> str:
    if not row.get(column):
        raise ValueError(f"{name} row {i}, column {column}: empty")
    return row[column]


def _number(name: str, i: int, row: dict[str, str], column: str, *, whole: bool = False) -> float:
    text = row.get(column, "")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} row {i}, column {column}: '{text}' is not a number") from None
    if value < 0:
        raise ValueError(f"{name} row {i}, column {column}: {text} is negative")
    limit = MAX_DAYS if whole else MAX_AMOUNT
    if value != value or value < 0 or value > limit:
        raise ValueError(f"{name} row {i}, column {column}: {text} is not within 0 … {limit:g}")
    if whole and not value.is_integer():
        raise ValueError(f"{name} row {i}, column {column}: {text} is not a whole number of days")
    if not whole and value == 0:
        raise ValueError(f"{name} row {i}, column {column}: a deal's amount must be more than 0")
    return value
