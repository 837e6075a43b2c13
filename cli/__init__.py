"""The `anfu` command line: serve, migrate, demo data, regulators, registry, schema, ledger,
complaints, credit, risk, payments, reconcile."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from cli.credit import credit_app
from cli.environment import load_settings, run_with_database
from cli.payments import payments_app
from cli.persisted import persisted_app
from cli.reconcile import reconcile_app
from cli.risk import risk_app

app = typer.Typer(help="Anfu: the prepaid-consumption supervision API.", no_args_is_help=True)
ledger_app = typer.Typer(help="The custody ledger.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
complaints_app = typer.Typer(help="Complaints.", no_args_is_help=True)
app.add_typer(complaints_app, name="complaints")
app.add_typer(persisted_app, name="persisted")
app.add_typer(credit_app, name="credit")
app.add_typer(risk_app, name="risk")
app.add_typer(payments_app, name="payments")
app.add_typer(reconcile_app, name="reconcile")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: PORT or 8000")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Server processes (default: ANFU_WORKERS or 1). More than one helps only for "
            "CPU-bound GraphQL on several cores, and needs PostgreSQL and Redis.",
        ),
    ] = None,
) -> None:
    """Serve the API at /graphql (GraphiQL in development). On SIGTERM requests in flight
    finish (up to SHUTDOWN_TIMEOUT_SECONDS) and WebSockets close with 1012 before it exits."""
    import uvicorn

    from transport.logs import log_config

    settings = load_settings()
    processes = workers or settings.workers
    if processes > 1:
        _refuse_shared_nothing(settings.cache_url)
        _prepare_multiprocess_metrics()
    run_with_database(_nothing)  # refuse to start on a database that cannot be opened
    uvicorn.run(
        "server:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=processes,
        log_config=log_config(settings),
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,  # type: ignore[arg-type]
        # A WebSocket message is bounded like a request body (MAX_BODY_BYTES).
        ws_max_size=settings.max_body_bytes,
        # The app reads X-Forwarded-For itself, from TRUSTED_PROXIES only (services/limits.py).
        proxy_headers=False,
    )


def _refuse_shared_nothing(cache_url: str) -> None:
    """Several processes must share their state: the in-process cache would keep a logout, a
    rate limit or an APQ document in one process only. (SQLite is fine: its write transactions
    take turns across processes, core/sqlite.py.)"""
    if not cache_url.startswith(("redis://", "rediss://")):
        typer.echo("error: several workers need a shared cache (CACHE_URL=redis://...)", err=True)
        raise typer.Exit(2)


def _prepare_multiprocess_metrics() -> None:
    """prometheus_client's multiprocess mode: each worker writes its values under
    PROMETHEUS_MULTIPROC_DIR and /metrics sums them. The directory starts empty each run."""
    import os
    import tempfile

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="anfu-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


@app.command()
def migrate() -> None:
    """Apply the database migrations (creates the SQLite file when needed)."""
    from tortoise.migrations.api import migrate as apply

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            typer.echo(f"applied {app_label}.{name}")

    async def work() -> None:
        await apply(config=load_settings().tortoise_config(), progress=progress)

    run_with_database(work, create=True)
    typer.echo("database is up to date")


@app.command("seed-demo")
def seed_demo(
    force: Annotated[bool, typer.Option(help="Load even when demo data is present")] = False,
) -> None:
    """Load the deterministic demo data (once; later runs do nothing)."""
    from cli.demo import load_demo

    summary = run_with_database(lambda: load_demo(force=force, progress=_progress_bar))
    typer.echo(summary)


@contextlib.contextmanager
def _progress_bar(phase: str, total: int) -> Iterator[Callable[[], object]]:
    """One phase of a long command as a progress bar on stderr (stdout keeps the result)."""
    from tqdm import tqdm

    with tqdm(total=total, desc=phase, unit="step", file=sys.stderr) as bar:
        yield bar.update


@app.command("create-regulator")
def create_regulator(
    phone: Annotated[str, typer.Option(help="Mainland mobile number, 11 digits")],
    password: Annotated[str, typer.Option(help="8 to 128 characters")],
    name: Annotated[str, typer.Option(help="Display name")],
) -> None:
    """Create a regulator account (regulators are never created through the API)."""
    from core.errors import DomainError
    from models.enums import Role
    from services import accounts

    async def create() -> int:
        user = await accounts.create_user(
            role=Role.REGULATOR, phone=phone, password=password, display_name=name
        )
        return user.id

    try:
        user_id = run_with_database(create)
    except DomainError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created regulator {name} ({phone}), user {user_id}")


@app.command("deactivate-user")
def deactivate_user(
    phone: Annotated[str, typer.Option(help="The account's phone number")],
) -> None:
    """Deactivate an account: it signs in no more, and its sessions and access tokens end now
    on every server (through the shared cache of CACHE_URL)."""
    from core import cache
    from models import User
    from services import accounts

    async def deactivate() -> bool | None:
        try:
            user = await User.get_or_none(phone=phone.strip())
            return None if user is None else await accounts.deactivate_user(user.id)
        finally:
            await cache.close_cache()

    changed = run_with_database(deactivate)
    if changed is None:
        typer.echo(f"error: no account with phone {phone}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"deactivated {phone}" if changed else f"{phone} was already inactive; sessions ended"
    )


@app.command("import-registry")
def import_registry(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Upsert registry records from CSV or JSON by credit code; bad rows are reported and skipped
    (the good ones still import) and make the exit status 1."""
    from tqdm import tqdm

    from services.registry import ImportReport, import_rows
    from services.registry_files import read_registry_file

    try:
        rows = read_registry_file(file)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None

    async def work() -> ImportReport:
        with tqdm(total=len(rows), unit="row", desc="registry", file=sys.stderr) as bar:
            return await import_rows(rows, progress=bar.update)

    report = run_with_database(work)
    for problem in report.problems:
        typer.echo(f"row {problem.row_number}: {problem.reason}", err=True)
    typer.echo(
        f"{report.created} created, {report.updated} updated, {len(report.problems)} rejected"
    )
    if report.problems:
        raise typer.Exit(1)


@app.command("export-schema")
def export_schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: stdout")] = None,
) -> None:
    """Print the GraphQL schema (SDL) the server serves."""
    from schema import schema

    text = schema.as_str() + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Check every ledger invariant over the whole database; exit 1 naming what is wrong."""
    from services.ledger import verify_ledger

    report = run_with_database(verify_ledger)
    typer.echo(
        f"checked {report.transfers} transfers, {report.postings} postings, "
        f"{report.accounts} accounts, {report.cards} cards"
    )
    if report.ok:
        typer.echo(
            "ledger OK: every transfer balances, the ledger sums to zero, custody matches cards"
        )
        return
    for problem in report.problems:
        typer.echo(f"PROBLEM {problem}", err=True)
    typer.echo(f"{len(report.problems)} problem(s) found", err=True)
    raise typer.Exit(1)


@complaints_app.command("sweep")
def complaints_sweep() -> None:
    """Move complaints the merchant left unanswered past their deadline to mediation."""
    from services.complaints import sweep_unanswered

    escalated = run_with_database(sweep_unanswered)
    typer.echo(f"{escalated} complaint(s) escalated to mediation")


async def _nothing() -> None:
    """The work of a command that only needs to know the database opens."""
