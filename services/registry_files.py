"""Reading a registry export: the rows of a CSV or JSON file as plain dicts of text.

Rows are keyed by column name (`REQUIRED_COLUMNS`); other columns are ignored.
`read_registry_file` also records where each row came from under `ROW_NUMBER_KEY`
(the file line for CSV, the 1-based list index for JSON) and any structural fault
of the row under `READ_PROBLEM_KEY`, so that services/registry.py can name rows
the way a person looking at the file counts them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

REQUIRED_COLUMNS = (
    "credit_code",
    "name",
    "legal_representative",
    "registered_capital",
    "established_on",
    "registration_status",
    "administrative_penalties",
    "on_abnormal_list",
)
# Keys that cannot clash with a column: column names never start with "#".
ROW_NUMBER_KEY = "#row"
READ_PROBLEM_KEY = "#problem"


def read_registry_file(path: Path) -> list[dict[str, str]]:
    """The rows of a registry export (.csv or .json), or ValueError saying what is wrong."""
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".json"}:
        raise ValueError(f"{path.name}: unsupported file type {suffix!r}; use .csv or .json")
    try:
        # newline="" lets the csv module see line breaks inside quoted values.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _read_csv(handle) if suffix == ".csv" else _read_json(handle.read())
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not UTF-8 text; save it as UTF-8 and retry") from None
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path.name} is not valid JSON: {error}") from None
    except ValueError as error:
        raise ValueError(f"{path.name}: {error}") from None


def _read_csv(lines: Iterable[str]) -> list[dict[str, str]]:
    records = _csv_records(lines)
    header_record = next(records, None)
    if header_record is None:
        raise ValueError("the file is empty; expected a header row naming the columns")
    header = [_column_name(name) for name in header_record[1]]
    _require_columns(header)
    positions = {name: header.index(name) for name in REQUIRED_COLUMNS}
    return [_csv_row(number, values, header, positions) for number, values in records]


def _csv_records(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank CSV record with the file line it starts on."""
    reader = csv.reader(lines)
    start = 1
    try:
        for values in reader:
            if any(value.strip() for value in values):
                yield start, values
            start = reader.line_num + 1
    except csv.Error as error:
        raise ValueError(f"line {reader.line_num} is not readable CSV: {error}") from None


def _csv_row(
    number: int, values: list[str], header: list[str], positions: Mapping[str, int]
) -> dict[str, str]:
    row = {name: values[at] for name, at in positions.items() if at < len(values)}
    row[ROW_NUMBER_KEY] = str(number)
    # More values than columns usually means an unquoted comma shifted the row.
    if any(value.strip() for value in values[len(header) :]):
        row[READ_PROBLEM_KEY] = (
            f"the row has {len(values)} values but the header has {len(header)} columns; "
            "quote values that contain commas"
        )
    return row


def _read_json(text: str) -> list[dict[str, str]]:
    # Keep number literals as written so "5000000.10" is never a float.
    document = json.loads(text, parse_float=str, parse_int=str)
    items = document.get("records") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise ValueError('expected a list of records, or an object with a "records" list')
    rows = [_json_row(index, item) for index, item in enumerate(items, start=1)]
    if rows:
        _require_columns({key for item in items if isinstance(item, dict) for key in _keys(item)})
    return rows


def _keys(item: Mapping[str, Any]) -> Iterator[str]:
    return (_column_name(key) for key in item)


def _json_row(number: int, item: object) -> dict[str, str]:
    row = {ROW_NUMBER_KEY: str(number)}
    if not isinstance(item, dict):
        row[READ_PROBLEM_KEY] = f"expected an object with the registry columns, not {_kind(item)}"
        return row
    faults = []
    for key, value in item.items():
        name = _column_name(key)
        if name not in REQUIRED_COLUMNS or value is None:
            continue
        if isinstance(value, dict | list):
            faults.append(f"{name}: expected text or a number, not {_kind(value)}")
        else:
            row[name] = as_text(value)
    if faults:
        row[READ_PROBLEM_KEY] = "; ".join(faults)
    return row


def as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else "a single value"


def _column_name(name: str) -> str:
    return name.strip().lower()


def _require_columns(columns: Iterable[str]) -> None:
    present = list(columns)
    missing = [name for name in REQUIRED_COLUMNS if name not in present]
    if missing:
        raise ValueError(
            f"missing required column(s): {', '.join(missing)} "
            f"(the columns are: {', '.join(REQUIRED_COLUMNS)})"
        )
    repeated = [name for name in REQUIRED_COLUMNS if present.count(name) > 1]
    if repeated:
        raise ValueError(f"column(s) named more than once: {', '.join(repeated)}")
