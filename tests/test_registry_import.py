"""The registry import: reading CSV and JSON, checking rows, upserting by credit code, the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path

import pytest

from models import RegistryRecord
from services.credit_code import CHARSET
from services.registry import BATCH_SIZE, ImportReport, RowProblem, import_rows
from services.registry_files import REQUIRED_COLUMNS, read_registry_file
from tests.support import new_credit_code

BAD_CHECK = "credit_code: the check character (the 18th) does not match the first 17"
BAD_CAPITAL = (
    "is not an amount in yuan like 5000000 or 5000000.00 "
    "(digits, at most two decimals, no sign or exponent)"
)
BAD_FLAG = "is not true or false (write true/false, 1/0 or yes/no)"


def registry_row(**overrides: str) -> dict[str, str]:
    """A valid registry row with a fresh credit code (the session shares one database)."""
    row = {
        "credit_code": new_credit_code(),
        "name": f"淮安洁净洗衣有限公司{uuid.uuid4().hex[:6]}",
        "legal_representative": "王五",
        "registered_capital": "5000000.00",
        "established_on": "2019-03-15",
        "registration_status": "存续",
        "administrative_penalties": "0",
        "on_abnormal_list": "false",
    }
    row.update(overrides)
    return row


def csv_text(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def write_csv(
    path: Path,
    rows: Iterable[Mapping[str, str]],
    columns: Sequence[str] = REQUIRED_COLUMNS,
    encoding: str = "utf-8",
) -> Path:
    lines = [list(columns), *([row.get(column, "") for column in columns] for row in rows)]
    path.write_bytes(csv_text(lines).encode(encoding))
    return path


def with_wrong_check_character(code: str) -> str:
    return code[:17] + CHARSET[(CHARSET.index(code[17]) + 1) % len(CHARSET)]


def problems_by_row(report: ImportReport) -> dict[int, str]:
    return {problem.row_number: problem.reason for problem in report.problems}


async def record(code: str) -> RegistryRecord:
    return await RegistryRecord.get(credit_code=code)


async def stored_codes(codes: Iterable[str]) -> set[str]:
    rows = await RegistryRecord.filter(credit_code__in=list(codes)).values("credit_code")
    return {row["credit_code"] for row in rows}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"], ids=["plain", "bom"])
async def test_csv_import_creates_records_with_typed_values(
    database, tmp_path, frozen_clock, encoding
):
    first = registry_row(registered_capital="5000000", on_abnormal_list="FALSE")
    second = registry_row(
        registered_capital="1234.5",
        established_on="2024-12-31",
        registration_status="吊销",
        administrative_penalties="3",
        on_abnormal_list="Yes",
    )
    typed_code = second["credit_code"]
    # Codes typed by hand arrive in lower case with stray spaces.
    second["credit_code"] = f"  {typed_code.lower()} "
    path = write_csv(tmp_path / "registry.csv", [first, second], encoding=encoding)

    report = await import_rows(read_registry_file(path))

    assert report == ImportReport(created=2, updated=0, problems=[])
    one = await record(str(first["credit_code"]))
    assert one.name == first["name"]
    assert one.legal_representative == "王五"
    assert one.registered_capital_fen == 500_000_000
    assert one.established_on == date(2019, 3, 15)
    assert one.registration_status == "存续"
    assert one.administrative_penalties == 0
    assert one.on_abnormal_list is False
    assert one.updated_at == frozen_clock.current
    two = await record(typed_code)
    assert two.registered_capital_fen == 123_450
    assert two.established_on == date(2024, 12, 31)
    assert two.registration_status == "吊销"
    assert two.administrative_penalties == 3
    assert two.on_abnormal_list is True


@pytest.mark.parametrize("wrapped", [False, True], ids=["list", "records-object"])
async def test_json_import_accepts_native_numbers_and_booleans(database, tmp_path, wrapped):
    first = {
        **registry_row(),
        "registered_capital": 5000000,
        "administrative_penalties": 2,
        "on_abnormal_list": True,
        "address": "淮安市清江浦区健康东路1号",  # columns the import does not use are ignored
    }
    second = {**registry_row(), "registered_capital": 1234.56, "on_abnormal_list": 0}
    items = [first, second]
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"records": items} if wrapped else items), encoding="utf-8")

    report = await import_rows(read_registry_file(path))

    assert report == ImportReport(created=2, updated=0, problems=[])
    one = await record(str(first["credit_code"]))
    assert (one.registered_capital_fen, one.administrative_penalties) == (500_000_000, 2)
    assert one.on_abnormal_list is True
    two = await record(str(second["credit_code"]))
    assert (two.registered_capital_fen, two.on_abnormal_list) == (123_456, False)


async def test_json_rows_are_numbered_by_list_position(database, tmp_path):
    items = [
        registry_row(),
        "not an object",
        {**registry_row(), "name": None},
        {**registry_row(), "registered_capital": -5},
        {**registry_row(), "registered_capital": "EXPONENT"},
        {**registry_row(), "on_abnormal_list": {"value": True}},
    ]
    path = tmp_path / "registry.json"
    # json.dumps never writes an exponent; registry exports might.
    path.write_text(json.dumps(items).replace('"EXPONENT"', "5e6"), encoding="utf-8")

    report = await import_rows(read_registry_file(path))

    assert report.created == 1
    assert problems_by_row(report) == {
        2: "expected an object with the registry columns, not a single value",
        3: "missing name",
        4: f"registered_capital: '-5' {BAD_CAPITAL}",
        5: f"registered_capital: '5e6' {BAD_CAPITAL}",
        6: "on_abnormal_list: expected text or a number, not an object",
    }


async def test_reimport_updates_changed_fields_and_counts_created_and_updated(
    database, tmp_path, frozen_clock
):
    changing, unchanged = registry_row(), registry_row()
    await import_rows(read_registry_file(write_csv(tmp_path / "v1.csv", [changing, unchanged])))
    before = await record(changing["credit_code"])
    frozen_clock.advance(days=30)
    changed = {
        **changing,
        "name": "淮安洁净洗衣（集团）有限公司",
        "legal_representative": "赵六",
        "registered_capital": "8000000.50",
        "established_on": "2018-01-02",
        "registration_status": "注销",
        "administrative_penalties": "4",
        "on_abnormal_list": "1",
    }
    added = registry_row()
    path = write_csv(tmp_path / "v2.csv", [changed, unchanged, added])

    report = await import_rows(read_registry_file(path))

    assert report == ImportReport(created=1, updated=2, problems=[])
    after = await record(changing["credit_code"])
    assert after.id == before.id
    assert (after.name, after.legal_representative) == ("淮安洁净洗衣（集团）有限公司", "赵六")
    assert after.registered_capital_fen == 800_000_050
    assert after.established_on == date(2018, 1, 2)
    assert (after.registration_status, after.administrative_penalties) == ("注销", 4)
    assert after.on_abnormal_list is True
    assert after.updated_at == frozen_clock.current
    kept = await record(unchanged["credit_code"])
    assert kept.name == unchanged["name"]
    assert kept.updated_at == before.updated_at  # nothing to change, so nothing written
    assert await stored_codes([added["credit_code"]]) == {added["credit_code"]}
    assert await RegistryRecord.filter(credit_code=changing["credit_code"]).count() == 1


async def test_bad_rows_are_reported_with_row_and_reason_and_good_rows_kept(database, tmp_path):
    good_first, good_last = registry_row(), registry_row()
    bad = [
        registry_row(credit_code=with_wrong_check_character(new_credit_code())),
        registry_row(established_on="2020-13-01"),
        registry_row(registered_capital="-5"),
        registry_row(registered_capital="五百万"),
        registry_row(name=""),
        registry_row(on_abnormal_list="maybe"),
        registry_row(administrative_penalties="-1"),
        registry_row(registered_capital="5000000.123"),
        registry_row(established_on="2020/07/01"),
    ]
    path = write_csv(tmp_path / "registry.csv", [good_first, *bad, good_last])

    report = await import_rows(read_registry_file(path))

    assert (report.created, report.updated) == (2, 0)
    assert problems_by_row(report) == {
        3: BAD_CHECK,
        4: "established_on: '2020-13-01' is not a date like 2020-07-01",
        5: f"registered_capital: '-5' {BAD_CAPITAL}",
        6: f"registered_capital: '五百万' {BAD_CAPITAL}",
        7: "missing name",
        8: f"on_abnormal_list: 'maybe' {BAD_FLAG}",
        9: "administrative_penalties: '-1' is not a whole number of 0 or more",
        10: f"registered_capital: '5000000.123' {BAD_CAPITAL}",
        11: "established_on: '2020/07/01' is not a date like 2020-07-01",
    }
    codes = [row["credit_code"] for row in [good_first, *bad, good_last]]
    assert await stored_codes(codes) == {good_first["credit_code"], good_last["credit_code"]}


async def test_every_fault_of_a_row_is_reported_and_plain_rows_count_from_one(database):
    rows = [
        registry_row(),
        registry_row(established_on="2021-02-30", on_abnormal_list="2", legal_representative=" "),
    ]

    report = await import_rows(rows)

    assert report.problems == [
        RowProblem(
            2,
            "missing legal_representative; "
            "established_on: '2021-02-30' is not a date like 2020-07-01; "
            f"on_abnormal_list: '2' {BAD_FLAG}",
        )
    ]


async def test_csv_row_numbers_are_file_lines(database, tmp_path):
    good = registry_row(name="淮安\n多行名称洗衣店")  # a quoted line break: the row spans two lines
    bad_check = registry_row(credit_code=with_wrong_check_character(new_credit_code()))
    shifted = registry_row(name="淮安,洗衣")
    text = (
        csv_text([REQUIRED_COLUMNS, [good[column] for column in REQUIRED_COLUMNS]])
        + "\r\n,,,\r\n"  # a blank line and an empty record, as spreadsheets leave them
        + csv_text([[bad_check[column] for column in REQUIRED_COLUMNS]])
        # An unquoted comma in the name shifts every later value by one column.
        + ",".join(shifted[column] for column in REQUIRED_COLUMNS)
        + "\r\n"
    )
    path = tmp_path / "registry.csv"
    path.write_text(text, encoding="utf-8", newline="")

    report = await import_rows(read_registry_file(path))

    assert report.created == 1
    assert (await record(good["credit_code"])).name == "淮安\n多行名称洗衣店"
    problems = problems_by_row(report)
    assert list(problems) == [6, 7]
    assert problems[6] == BAD_CHECK
    assert problems[7] == (
        "the row has 9 values but the header has 8 columns; quote values that contain commas"
    )


async def test_the_later_of_two_rows_with_one_credit_code_wins(database, tmp_path):
    code = new_credit_code()
    rows = [
        registry_row(credit_code=code, name="旧名称"),
        registry_row(credit_code=code, name="新名称"),
        registry_row(credit_code=code, name="坏行", established_on="yesterday"),
    ]

    report = await import_rows(read_registry_file(write_csv(tmp_path / "dup.csv", rows)))

    assert (report.created, report.updated) == (1, 0)
    assert report.problems == [
        RowProblem(2, f"credit_code {code} appears again in row 3, which replaces this row"),
        RowProblem(4, "established_on: 'yesterday' is not a date like 2020-07-01"),
    ]
    assert (await record(code)).name == "新名称"


async def test_large_imports_go_in_batches_with_few_statements_and_report_progress(
    database, count_sql
):
    rows = [registry_row() for _ in range(2 * BATCH_SIZE + 1)]
    rows.insert(7, registry_row(registered_capital="abc"))
    steps: list[int] = []

    report = await import_rows(rows, progress=steps.append)
    created_statements = len(count_sql.statements)
    again = await import_rows(rows[:BATCH_SIZE])

    assert (report.created, report.updated, len(report.problems)) == (2 * BATCH_SIZE + 1, 0, 1)
    assert sum(steps) == len(rows)
    assert len(steps) == 4  # the rejected row, then one step per batch
    # Per batch: one SELECT of the records already known, one INSERT of the rest.
    assert created_statements <= 2 * 3
    assert (again.created, again.updated) == (0, BATCH_SIZE - 1)
    # Nothing changed: the one SELECT, and no write.
    assert len(count_sql.statements) - created_statements == 1


def test_missing_required_column_is_a_file_error(tmp_path):
    columns = [column for column in REQUIRED_COLUMNS if column != "established_on"]
    path = write_csv(tmp_path / "registry.csv", [registry_row()], columns=columns)

    with pytest.raises(ValueError, match=r"missing required column\(s\): established_on"):
        read_registry_file(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("registry.xlsx", b"PK", "unsupported file type '.xlsx'"),
        ("registry.csv", b"", "the file is empty"),
        ("registry.csv", "credit_code,名称\n".encode("gbk"), "is not UTF-8 text"),
        ("registry.json", b"[{", "is not valid JSON"),
        ("registry.json", b'{"rows": []}', 'a "records" list'),
        ("registry.json", b'[{"credit_code": "x"}]', "missing required column(s): name,"),
        (
            "registry.csv",
            (",".join(REQUIRED_COLUMNS) + ",NAME\n").encode(),
            "named more than once: name",
        ),
    ],
)
def test_unreadable_files_are_file_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(ValueError) as raised:
        read_registry_file(path)

    assert message in str(raised.value)


def test_a_header_only_file_has_no_rows(tmp_path):
    assert read_registry_file(write_csv(tmp_path / "empty.csv", [])) == []


class AnfuCommand:
    """The installed `anfu` console script, run against its own SQLite database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.database = directory / "cli.sqlite3"
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
        self.env["DATABASE_URL"] = f"sqlite://{self.database}"

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        executable = Path(sys.executable).parent / "anfu"
        return subprocess.run(
            [str(executable), *args],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def records(self) -> list[tuple[str, int, int]]:
        with sqlite3.connect(self.database) as connection:
            return connection.execute(
                "SELECT credit_code, registered_capital_fen, on_abnormal_list"
                " FROM registry_records ORDER BY id"
            ).fetchall()


def test_cli_imports_a_csv_and_reports_bad_rows(tmp_path):
    anfu = AnfuCommand(tmp_path)
    good, other = registry_row(), registry_row(registered_capital="12.5", on_abnormal_list="是")
    rows = [
        good,
        registry_row(credit_code=with_wrong_check_character(new_credit_code())),
        other,
        registry_row(established_on="2020-13-01"),
    ]
    path = write_csv(tmp_path / "registry.csv", rows)
    clean_path = write_csv(tmp_path / "clean.csv", [good, other])

    migrated = anfu("migrate")
    first = anfu("import-registry", str(path))
    second = anfu("import-registry", str(path))
    clean = anfu("import-registry", str(clean_path))

    assert migrated.returncode == 0, migrated.stderr
    assert "database is up to date" in migrated.stdout
    # Rejected rows make the exit status 1; the good rows are imported all the same.
    assert first.returncode == 1, first.stderr
    assert first.stdout.splitlines() == ["2 created, 0 updated, 2 rejected"]
    assert f"row 3: {BAD_CHECK}\n" in first.stderr
    assert "row 5: established_on: '2020-13-01' is not a date like 2020-07-01\n" in first.stderr
    assert "row 2:" not in first.stderr
    assert second.returncode == 1, second.stderr
    assert second.stdout.splitlines() == ["0 created, 2 updated, 2 rejected"]
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.splitlines() == ["0 created, 2 updated, 0 rejected"]
    assert anfu.records() == [
        (good["credit_code"], 500_000_000, 0),
        (other["credit_code"], 1250, 1),
    ]


def test_cli_exit_codes_for_bad_files(tmp_path):
    anfu = AnfuCommand(tmp_path)
    assert anfu("migrate").returncode == 0
    no_date = [column for column in REQUIRED_COLUMNS if column != "established_on"]
    missing_column = write_csv(tmp_path / "missing.csv", [registry_row()], columns=no_date)
    all_bad = write_csv(tmp_path / "bad.csv", [registry_row(on_abnormal_list="maybe")])

    unreadable = anfu("import-registry", str(missing_column))
    rejected = anfu("import-registry", str(all_bad))

    assert unreadable.returncode == 2
    assert "error: missing.csv: missing required column(s): established_on" in unreadable.stderr
    assert rejected.returncode == 1
    assert rejected.stdout.splitlines() == ["0 created, 0 updated, 1 rejected"]
    assert f"row 2: on_abnormal_list: 'maybe' {BAD_FLAG}" in rejected.stderr
    assert anfu.records() == []
