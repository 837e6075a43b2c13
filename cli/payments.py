"""`anfu payments keys` and `anfu payments simulator`: test keys for the WeChat Pay channel and
the simulated gateway (channel/simulator/) that the demo and a newcomer's `make run` pay with."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer

from channel.keys import DEFAULT_DIRECTORY

payments_app = typer.Typer(help="The payment channel (WeChat Pay) and its simulator.")

DEFAULT_PORT = 8090
DEFAULT_NOTIFY_URL = "http://127.0.0.1:8000/payments/wechat/notify"
KeysOption = Annotated[Path, typer.Option("--keys", help="The test keys' directory")]


@payments_app.command("keys")
def keys(
    directory: Annotated[Path, typer.Argument(help="Where the keys go")] = DEFAULT_DIRECTORY,
    gateway: Annotated[str, typer.Option(help="The simulator's URL")] = (
        f"http://127.0.0.1:{DEFAULT_PORT}"
    ),
    notify_url: Annotated[str, typer.Option(help="The server's notify endpoint")] = (
        DEFAULT_NOTIFY_URL
    ),
) -> None:
    """Make test keys in DIR (kept when already there) and print the server's WECHATPAY_*
    settings for them. Test keys only: never a real merchant account's."""
    from channel.keys import generate_test_keys

    made = generate_test_keys(directory)
    for line in made.env_lines(gateway=gateway, notify_url=notify_url):
        typer.echo(line)


@payments_app.command("simulator")
def simulator(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = DEFAULT_PORT,
    keys_directory: KeysOption = DEFAULT_DIRECTORY,
    state: Annotated[
        Path | None, typer.Option(help="JSON file that keeps orders and refunds across restarts")
    ] = None,
    refund_delay: Annotated[
        float, typer.Option(help="Seconds before a refund succeeds and is notified")
    ] = 2.0,
) -> None:
    """Serve the WeChat Pay simulator: the v3 endpoints the server calls, and
    /simulator/pay/{prepay_id} where the payer confirms (a page for a browser, or a POST)."""
    import httpx
    import uvicorn

    from channel.keys import generate_test_keys
    from channel.simulator import REAL_RETRY_DELAYS, Simulator, SimulatorConfig

    made = generate_test_keys(keys_directory)
    config = SimulatorConfig.from_keys(
        made, state_file=state, retry_delays=REAL_RETRY_DELAYS, refund_delay_seconds=refund_delay
    )
    sim = Simulator(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=10) as client:
            sim.use_notifier(client)
            yield
            await sim.aclose()

    sim.app.router.lifespan_context = lifespan
    typer.echo(f"WeChat Pay simulator on http://127.0.0.1:{port} (keys in {keys_directory})")
    uvicorn.run(sim.app, host="127.0.0.1", port=port, log_level="info")
