"""`anfu risk sweep`: run every risk rule over every ACTIVE or SUSPENDED merchant now."""

from __future__ import annotations

import typer

from cli.environment import load_settings, run_with_database

risk_app = typer.Typer(help="Risk alerts.", no_args_is_help=True)


@risk_app.command("sweep")
def sweep() -> None:
    """Run every risk rule over every active or suspended merchant now."""
    # What time alone brings (a redemption stall) and what a server did not get to. New alerts
    # reach subscribed regulators through the shared event bus when CACHE_URL is Redis.
    from services import background, events, risk

    settings = load_settings()

    async def work() -> risk.SweepReport:
        previous = None
        if settings.cache_url.startswith(("redis://", "rediss://")):
            previous = events.use_bus(events.RedisBus(settings.cache_url, name="anfu-cli"))
        try:
            report = await risk.sweep()
            # New alerts scheduled score recomputes: done before the database closes.
            await background.drain()
        finally:
            if previous is not None:
                await events.use_bus(previous).close()
        return report

    report = run_with_database(work)
    typer.echo(
        f"checked {report.merchants} merchant(s): {report.raised} new alert(s), "
        f"{report.repeated} open alert(s) updated"
    )
