"""The market-regulation registry import: check each row of an export, upsert by credit code.

The rows come from services/registry_files.py (`read_registry_file`): plain dicts
of text keyed by column name, with where each row came from and any structural
fault of it, so that `import_rows` names rows the way a person looking at the
file counts them.

Rules of an import:
- A row with any bad value is reported (every fault of the row, joined by "; ")
  and skipped; the good rows of the same file are still imported. A malformed
  row (more CSV values than columns, a JSON item that is not a flat object) is
  reported for that alone.
- The same credit code twice in one file: the later valid row wins and the
  earlier one is reported as replaced, so created + updated + rejected always
  equals the number of rows. An invalid row never replaces a valid one.
- `updated` counts every record the file already had, changed or not (it is
  now as the file says). Only records whose values differ are written, so a
  re-import of a mostly unchanged export is quick and `updated_at` says when an
  import last changed the record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tortoise.transactions import in_transaction

from core import clock
from models import RegistryRecord
from services.credit_code import problem_with
from services.money import MAX_FEN
from services.registry_files import READ_PROBLEM_KEY, ROW_NUMBER_KEY, as_text

# Records per transaction: the known ones are fetched with one IN (...) of this
# many codes, well under the parameter limits of SQLite and PostgreSQL.
BATCH_SIZE = 500
# Every column an import writes on a record it changes.
WRITTEN_FIELDS = (
    "name",
    "legal_representative",
    "registered_capital_fen",
    "established_on",
    "registration_status",
    "administrative_penalties",
    "on_abnormal_list",
    "updated_at",
)

_CAPITAL = re.compile(r"([0-9]+)(?:\.([0-9]{1,2}))?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COUNT = re.compile(r"[0-9]+")
_MAX_PENALTIES = 2**31 - 1  # administrative_penalties is a 32-bit column
_TRUE = frozenset({"true", "1", "yes", "是"})
_FALSE = frozenset({"false", "0", "no", "否"})


@dataclass(frozen=True)
class RowProblem:
    """A row that was not imported, and why."""

    row_number: int
    reason: str


@dataclass
class ImportReport:
    """What an import did: records created and updated, rows rejected."""

    created: int = 0
    updated: int = 0
    problems: list[RowProblem] = field(default_factory=list)


class _BadValue(ValueError):
    """A column value that cannot be used; the message says why."""


# Checking rows


def _quoted(text: str) -> str:
    """A value as a report shows it: quoted, and cut short when long."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _credit_code(text: str) -> str:
    code = text.upper()
    problem = problem_with(code)
    if problem:
        raise _BadValue(problem)
    return code


def _bounded_text(column: str) -> Callable[[str], str]:
    """A parser that accepts text fitting the column (a longer value would fail the whole batch)."""
    limit: int = RegistryRecord._meta.fields_map[column].max_length  # type: ignore[attr-defined]

    def parse(text: str) -> str:
        if len(text) > limit:
            raise _BadValue(f"{len(text)} characters, at most {limit} fit")
        return text

    return parse


def _capital_fen(text: str) -> int:
    match = _CAPITAL.fullmatch(text)
    if match is None:
        raise _BadValue(
            f"{_quoted(text)} is not an amount in yuan like 5000000 or 5000000.00 "
            "(digits, at most two decimals, no sign or exponent)"
        )
    yuan, decimals = match.group(1).lstrip("0") or "0", match.group(2) or ""
    # The length test first: int() refuses strings of thousands of digits.
    fen = int(yuan) * 100 + int(decimals.ljust(2, "0")) if len(yuan) <= 15 else MAX_FEN + 1
    if fen > MAX_FEN:
        raise _BadValue(f"{_quoted(text)} is too large")
    return fen


def _date(text: str) -> date:
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise _BadValue(f"{_quoted(text)} is not a date like 2020-07-01")


def _count(text: str) -> int:
    if not _COUNT.fullmatch(text):
        raise _BadValue(f"{_quoted(text)} is not a whole number of 0 or more")
    # The length test first: int() refuses strings of thousands of digits.
    digits = text.lstrip("0") or "0"
    if len(digits) > 10 or int(digits) > _MAX_PENALTIES:
        raise _BadValue(f"{_quoted(text)} is too large")
    return int(digits)


def _flag(text: str) -> bool:
    word = text.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _BadValue(f"{_quoted(text)} is not true or false (write true/false, 1/0 or yes/no)")


# Column -> (model field, parser of its stripped, non-empty text).
_PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "credit_code": ("credit_code", _credit_code),
    "name": ("name", _bounded_text("name")),
    "legal_representative": ("legal_representative", _bounded_text("legal_representative")),
    "registered_capital": ("registered_capital_fen", _capital_fen),
    "established_on": ("established_on", _date),
    "registration_status": ("registration_status", _bounded_text("registration_status")),
    "administrative_penalties": ("administrative_penalties", _count),
    "on_abnormal_list": ("on_abnormal_list", _flag),
}


def _row_number(row: Mapping[str, object], index: int) -> int:
    """Where the reader says the row came from; else its 1-based place in the list."""
    try:
        return int(str(row[ROW_NUMBER_KEY]))
    except (KeyError, ValueError):
        return index


def _check_row(row: Mapping[str, object]) -> tuple[dict[str, Any], list[str]]:
    """The model field values of a row, and every reason it cannot be imported (none when good)."""
    values: dict[str, Any] = {}
    if row.get(READ_PROBLEM_KEY):
        # The row is malformed as a whole; faults of its values would only repeat that.
        return values, [str(row[READ_PROBLEM_KEY])]
    reasons = []
    for column, (field_name, parse) in _PARSERS.items():
        raw = row.get(column)
        text = "" if raw is None else as_text(raw).strip()
        if not text:
            reasons.append(f"missing {column}")
            continue
        try:
            values[field_name] = parse(text)
        except _BadValue as error:
            reasons.append(f"{column}: {error}")
    return values, reasons


# Writing records


@dataclass(frozen=True)
class _Accepted:
    """A valid row waiting to be written."""

    row_number: int
    values: dict[str, Any]


async def import_rows(
    rows: Sequence[Mapping[str, object]], progress: Callable[[int], object] | None = None
) -> ImportReport:
    """Upsert the good rows by credit code, in batches; report the bad ones (see module doc)."""
    report = ImportReport()
    accepted = _accept_rows(rows, report.problems)
    report.problems.sort(key=lambda problem: problem.row_number)
    _advance(progress, len(rows) - len(accepted))
    now = clock.now()
    for batch in _batches(list(accepted.values()), BATCH_SIZE):
        created, updated = await _write_batch([item.values for item in batch], now)
        report.created += created
        report.updated += updated
        _advance(progress, len(batch))
    return report


def _accept_rows(
    rows: Sequence[Mapping[str, object]], problems: list[RowProblem]
) -> dict[str, _Accepted]:
    """The valid rows by credit code (the later of two wins); adds every other row to `problems`."""
    accepted: dict[str, _Accepted] = {}
    for index, row in enumerate(rows, start=1):
        number = _row_number(row, index)
        values, reasons = _check_row(row)
        if reasons:
            problems.append(RowProblem(number, "; ".join(reasons)))
            continue
        code = values["credit_code"]
        earlier = accepted.pop(code, None)
        if earlier is not None:
            problems.append(
                RowProblem(
                    earlier.row_number,
                    f"credit_code {code} appears again in row {number}, which replaces this row",
                )
            )
        accepted[code] = _Accepted(number, values)
    return accepted


def _batches(items: list[_Accepted], size: int) -> Iterator[list[_Accepted]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _advance(progress: Callable[[int], object] | None, rows: int) -> None:
    if progress is not None and rows:
        progress(rows)


async def _write_batch(batch: list[dict[str, Any]], now: datetime) -> tuple[int, int]:
    """Write the new and changed records of a batch; returns (created, updated)."""
    async with in_transaction():
        known = await RegistryRecord.in_bulk(
            [values["credit_code"] for values in batch], field_name="credit_code"
        )
        writes = [
            RegistryRecord(**values, updated_at=now)
            for values in batch
            if _differs(known.get(values["credit_code"]), values)
        ]
        if writes:
            # One upsert for new and changed records alike: an executemany of one
            # statement is several times faster than bulk_update's CASE statements,
            # and a record a concurrent import created meanwhile is updated, not a
            # unique-key error.
            await RegistryRecord.bulk_create(
                writes, on_conflict=["credit_code"], update_fields=WRITTEN_FIELDS
            )
    return len(batch) - len(known), len(known)


def _differs(record: RegistryRecord | None, values: Mapping[str, Any]) -> bool:
    """Whether writing `values` would create or change the record."""
    return record is None or any(getattr(record, name) != value for name, value in values.items())
