"""`anfu reconcile channel|bank`: one day's statement against our records, stored as a report.

Exit status: 0 when every difference is explained (or there is none), 1 when unexplained
differences were found (each raised or joined a RECONCILIATION_MISMATCH alert), 2 when the
statement cannot be reconciled (unreadable, tampered with, of another day): one line on
stderr and nothing stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer

from cli.environment import load_settings, run_with_database
from models import ReconciliationDifference, ReconciliationReport

reconcile_app = typer.Typer(
    help="Daily reconciliation with the channel's trade bill and the custody bank's statement.",
    no_args_is_help=True,
)
BAD_INPUT = 2


def _day(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        typer.echo(f"error: {text!r} is not a date like 2026-12-01", err=True)
        raise typer.Exit(BAD_INPUT) from None


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as error:
        typer.echo(f"error: cannot read {file}: {error.strerror}", err=True)
        raise typer.Exit(BAD_INPUT) from None


@reconcile_app.command("channel")
def channel(
    date: Annotated[str, typer.Option("--date", help="The bill's day, e.g. 2026-12-01")],
    file: Annotated[
        Path | None,
        typer.Option("--file", dir_okay=False, help="A bill file instead of downloading it"),
    ] = None,
) -> None:
    """The channel's trade bill of the day against payment orders and channel refunds."""
    from services import payments
    from services.reconcile_channel import reconcile_channel

    day = _day(date)
    assert day is not None
    data = _read(file) if file is not None else None
    settings = load_settings()

    async def work() -> ReconciliationReport:
        if data is not None:
            return await reconcile_channel(day, data=data, name=file.name if file else None)
        if settings.payment_channel != "wechat":
            from services.reconciliation import StatementRejected

            raise StatementRejected(
                "ANFU_PAYMENT_CHANNEL is sandbox: there is no bill to download; give --file"
            )
        from channel.wechat import WeChatPayChannel

        opened = WeChatPayChannel.from_settings(settings)
        previous = payments.use_channel(opened)
        try:
            return await reconcile_channel(day)
        finally:
            payments.use_channel(previous)
            await opened.aclose()

    _run(work)


@reconcile_app.command("bank")
def bank(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The statement (MT940 or CSV)")],
    date: Annotated[
        str | None, typer.Option("--date", help="The statement's day (default: its own)")
    ] = None,
    format: Annotated[
        str | None,
        typer.Option("--format", help="mt940 or csv (default: by the file's extension)"),
    ] = None,
) -> None:
    """The custody bank's statement of a day against the custody ledger's movements."""
    from services.bank_statements import StatementFormat, guess_format
    from services.reconcile_bank import reconcile_bank

    day = _day(date)
    if format is not None and format not in ("mt940", "csv"):
        typer.echo(f"error: --format is mt940 or csv, not {format!r}", err=True)
        raise typer.Exit(BAD_INPUT)
    chosen: StatementFormat = "csv" if format == "csv" else "mt940"
    if format is None:
        chosen = guess_format(file.name)
    data = _read(file)

    async def work() -> ReconciliationReport:
        return await reconcile_bank(data, name=file.name, statement_format=chosen, day=day)

    _run(work)


def _run(reconcile: Callable[[], Awaitable[ReconciliationReport]]) -> None:
    """Reconcile with the event bus of the servers (so regulators hear new alerts at once),
    print the report, and exit with its status."""
    from services import background, events
    from services.reconciliation import StatementRejected

    settings = load_settings()

    async def work() -> tuple[ReconciliationReport, list[ReconciliationDifference]] | str:
        previous = None
        if settings.cache_url.startswith(("redis://", "rediss://")):
            previous = events.use_bus(events.RedisBus(settings.cache_url, name="anfu-cli"))
        try:
            try:
                report = await reconcile()
            except StatementRejected as error:
                return error.message
            # New alerts scheduled score recomputes: done before the database closes.
            await background.drain()
            differences = await ReconciliationDifference.filter(report_id=report.id).order_by("id")
            return report, differences
        finally:
            if previous is not None:
                await events.use_bus(previous).close()

    outcome = run_with_database(work)
    if isinstance(outcome, str):
        typer.echo(f"error: {outcome}", err=True)
        raise typer.Exit(BAD_INPUT)
    report, differences = outcome
    typer.echo(render_report(report, differences))
    if any(difference.explanation is None for difference in differences):
        raise typer.Exit(1)


def _yuan(fen: int | None) -> str:
    from services.money import format_money

    return "-" if fen is None else format_money(fen)


def render_report(report: ReconciliationReport, differences: list[ReconciliationDifference]) -> str:
    """The report as a plain-text table."""
    unexplained = sum(1 for d in differences if d.explanation is None)
    out = [
        f"{report.source.value} reconciliation of {report.statement_date.isoformat()} "
        f"(report {report.id}): {report.statement_name}",
        f"sha256 {report.statement_sha256}",
        f"{'':<10} {'count':>7} {'amount':>14}",
        f"{'statement':<10} {report.statement_count:>7} {_yuan(report.statement_fen):>14}",
        f"{'ledger':<10} {report.ledger_count:>7} {_yuan(report.ledger_fen):>14}",
        f"{'matched':<10} {report.matched_count:>7} {_yuan(report.matched_fen):>14}",
        f"{len(differences)} difference(s), {unexplained} unexplained",
    ]
    if differences:
        out.append(
            f"{'KIND':<18} {'REFERENCE':<32} {'MERCHANT':>8} {'LEDGER':>12} {'STATEMENT':>12}"
            "  ALERT  EXPLANATION / DETAIL"
        )
    for d in differences:
        out.append(
            f"{d.kind.value:<18} {d.reference:<32} {d.merchant_id or '-'!s:>8} "
            f"{_yuan(d.ledger_amount_fen):>12} {_yuan(d.statement_amount_fen):>12}  "
            f"{d.alert_id or '-'!s:<5}  {d.explanation or d.detail}"
        )
    return "\n".join(out)
