"""The Starlette application: /graphql over HTTP and WebSocket, health, readiness, metrics
(transport/metrics.py), and in development the assets GraphiQL loads (graphiql/).

The lifespan opens the database (Tortoise), the shared cache and the event bus
and closes them on shutdown, after uvicorn has let requests in flight finish (SIGTERM) and
the maintenance loop has ended its round. Each GraphQL request gets a Context carrying the
principal decoded once from its token; schema/ and resolvers/ do the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.async_base_view import AsyncHTTPRequestAdapter
from strawberry.http.base import BaseRequestProtocol
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult
from tortoise import Tortoise, connections

import graphiql
import plans
from auth import sessions
from auth.tokens import VerifiedToken
from channel.interface import PaymentChannel
from core import cache
from core.errors import ErrorCode, RateLimited, Unauthenticated
from schema import schema_for
from schema.context import Context
from schema.errors import classify_all
from schema.limits import Limits
from schema.persisted import names_a_document, with_document_id
from services import events, limits, maintenance, payments
from services.persisted import policy_from_settings
from settings import Settings, get_settings
from transport import access_log, metrics
from transport.graphql_http import GraphQLOverHTTP
from transport.middleware import BodyLimit
from transport.payment_notify import wechat_notify
from transport.responses import internal_error

log = logging.getLogger("anfu.server")


class TooManyConnections(Exception):
    """The user already holds WEBSOCKETS_PER_USER connections to this process."""


class AnfuTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with a user's connections counted, its session watched while it
    is open, and limits that say their code."""

    session_watch: asyncio.Task[None] | None = None

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            if self.session_watch is not None:
                self.session_watch.cancel()
            user_id = getattr(self.context.request.state, "websocket_slot", None)
            if user_id is not None:
                self.context.request.state.websocket_slot = None
                limits.websockets.give_back(user_id)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except TooManyConnections:
            # graphql-ws clients do not reconnect after 4429, so no storm of retries follows.
            await self.websocket.close(code=4429, reason="Too many connections")
            return
        token = getattr(self.context.request.state, "websocket_token", None)
        if self.connection_acknowledged and token is not None and self.session_watch is None:
            self.session_watch = asyncio.create_task(self._watch_session(token))

    async def _watch_session(self, token: VerifiedToken) -> None:
        """Close the connection once its session ends (logout, reuse, deactivation)."""
        settings = self.view.settings  # type: ignore[attr-defined]
        while True:
            await asyncio.sleep(settings.websocket_session_check_seconds)
            try:
                await sessions.check(token, settings)
            except Unauthenticated:
                await self.websocket.close(code=4403, reason="Session ended")
                return
            except Exception:
                log.exception("could not check a WebSocket connection's session")

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            error = GraphQLError(
                f"At most {limit} operations run at once on one connection",
                extensions={"code": ErrorCode.RATE_LIMITED.value},
            )
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )
            return
        await super().handle_subscribe(message)


class AnfuGraphQL(GraphQLOverHTTP):
    """strawberry's ASGI view with our context, WebSocket auth and error codes."""

    graphql_transport_ws_handler_class = AnfuTransportWS

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            schema_for(settings.is_production, operation_limits(settings)),
            graphql_ide=None if settings.is_production else "graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            # Browser pages on these origins may open the WebSocket too (same-origin always).
            allowed_origins=settings.cors_origins,
            max_subscriptions_per_connection=settings.subscriptions_per_connection,
        )
        self.settings = settings
        self.request_timeout_seconds = settings.request_timeout_seconds
        # Loaded once at start: a manifest that cannot be read stops the server here.
        self.persisted = policy_from_settings(settings)
        self.planner = plans.planner_for(
            settings, self.schema, operation_limits(settings), self.persisted
        )

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET naming a persisted document has no `query` but is an operation, not a visit.
        return super().should_render_graphql_ide(request) and not names_a_document(
            request.query_params
        )

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData) and not data.query:
            # strawberry drops a top-level documentId; the persisted extension reads it here.
            params = (
                self.parse_query_params(request.query_params)
                if request.method == "GET"
                else self.parse_json(await request.get_body())
            )
            data.extensions = with_document_id(data.extensions, params)
        return data

    async def execute_single(
        self, request: Request, request_adapter: AsyncHTTPRequestAdapter, *args: Any, **kwargs: Any
    ) -> ExecutionResult:
        # A trusted document's compiled plan (plans/) answers first when it can, exactly alike.
        planned = await plans.answer(self.planner, request_adapter.method, kwargs)
        return planned or await super().execute_single(request, request_adapter, *args, **kwargs)

    @property
    def graphql_ide_html(self) -> str:
        # The same page with its assets served from here (graphiql/), not from a CDN.
        return graphiql.page_html()

    def encode_json(self, data: object) -> str:
        # Chinese names and messages as UTF-8, not \u escapes: half the bytes, readable logs.
        # A str, not bytes: WebSocket messages must stay text frames.
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        context = Context(
            request=request,
            response=response,
            client_address=limits.client_address(
                request.client.host if request.client else None,
                request.headers.getlist("x-forwarded-for"),
                self.settings.trusted_proxy_networks,
            ),
            persisted=self.persisted,
        )
        request.state.request_id = context.request_id
        if isinstance(request, Request):
            try:
                context.principal = await sessions.authenticate(
                    self.settings, request.headers.get("authorization")
                )
            except Unauthenticated as error:
                context.auth_error = error
            try:
                await limits.count_request(context.principal, context.client_address)
            except RateLimited as error:
                context.auth_error = error
                response.headers["Retry-After"] = str(error.retry_after)
        return context

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """The token comes in connection_init: {"authorization": "Bearer <token>"}."""
        params = getattr(context, "connection_params", None) or {}
        header = _authorization_param(params)
        try:
            token = await sessions.authenticate_token(self.settings, header)
            if token is not None:
                context.principal = token.principal
            await limits.count_request(context.principal, context.client_address)
        except (Unauthenticated, RateLimited):
            raise ConnectionRejectionError() from None
        if token is not None:
            user_id = token.principal.require_user()
            if not limits.websockets.take(user_id, self.settings.websockets_per_user):
                raise TooManyConnections
            context.request.state.websocket_slot = user_id
            context.request.state.websocket_token = token
        return None

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # Errors raised outside an operation (before the extension runs) get their code here.
        request_id = getattr(getattr(request, "state", None), "request_id", None)
        if result.errors:
            result.errors = classify_all(result.errors, request_id)
        return await super().process_result(request, result)


def operation_limits(settings: Settings) -> Limits:
    return Limits(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_directives=settings.max_directives,
        max_cost=settings.max_cost,
        max_query_length=settings.max_query_length,
        max_repeats=settings.max_repeats,
        heavy_cost=settings.heavy_cost,
        heavy_at_once=settings.heavy_at_once,
    )


def _authorization_param(params: Mapping[str, object]) -> str | None:
    for key in ("authorization", "Authorization"):
        value = params.get(key)
        if isinstance(value, str):
            return value
    token = params.get("token")
    return f"Bearer {token}" if isinstance(token, str) else None


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(_request: Request) -> Response:
    checks: dict[str, str] = {}
    try:
        await connections.get("default").execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:
        log.warning("readiness: database check failed: %s", error)
        checks["database"] = "unavailable"
    try:
        await cache.cache().set("readyz", "ok", ttl=5)
        checks["cache"] = "ok" if await cache.cache().get("readyz") == "ok" else "unavailable"
    except Exception as error:
        log.warning("readiness: cache check failed: %s", error)
        checks["cache"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", **checks}, 200 if ready else 503
    )


async def maintain_forever(
    interval_seconds: float, stop: asyncio.Event, work: Callable[[], Awaitable[None]]
) -> None:
    """`work` (a round of services/maintenance.py) every interval; returns once `stop` is
    set, after the round under way."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_seconds)
        if stop.is_set():
            return
        try:
            await work()
        except Exception:
            log.exception("maintenance failed; trying again later")


def open_payment_channel(settings: Settings) -> PaymentChannel | None:
    """The two-step channel the settings name, installed for the services; None for the
    sandbox (or when a test installed one itself)."""
    if settings.payment_channel != "wechat" or payments.channel() is not None:
        return None
    from channel.wechat import WeChatPayChannel

    opened = WeChatPayChannel.from_settings(settings)
    payments.use_channel(opened)
    return opened


def create_app(settings: Settings | None = None, *, manage_database: bool = True) -> Starlette:
    """The application; `manage_database=False` when the caller already opened Tortoise."""
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if manage_database:
            await Tortoise.init(config=settings.tortoise_config(), _enable_global_fallback=True)
        if settings.cache_url.startswith(("redis://", "rediss://")):
            events.use_bus(events.RedisBus(settings.cache_url))
        opened_channel = open_payment_channel(settings)
        stop = asyncio.Event()
        sweepers = {
            asyncio.create_task(
                maintain_forever(settings.maintenance_seconds, stop, maintenance.run_round)
            ),
            asyncio.create_task(
                maintain_forever(
                    settings.payment_sweep_seconds, stop, maintenance.run_payments_round
                )
            ),
        }
        sampler = (
            asyncio.create_task(metrics.sample_pool_forever()) if metrics.MULTIPROCESS else None
        )
        # What startup built (modules, the schema, the ORM's models) lives as long as the
        # process: out of the collector's sight, a full collection scans only what requests
        # made since. Measured: it took p99 from ~80 ms to a few ms (docs/performance.md).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            stop.set()
            # The round under way may finish (it writes in short transactions), within bounds.
            await asyncio.wait(sweepers, timeout=settings.shutdown_timeout_seconds)
            for task in (*sweepers, sampler):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            metrics.process_exits()
            if opened_channel is not None:
                payments.use_channel(None)
                await opened_channel.aclose()
            await events.bus().close()
            await cache.close_cache()
            if manage_database:
                await Tortoise.close_connections()

    graphql = AnfuGraphQL(settings)
    routes: list[BaseRoute] = [
        # Every method reaches the view, which answers those it does not take with a 405.
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/payments/wechat/notify", wechat_notify, methods=["POST"]),
    ]
    if settings.serves_metrics:
        routes.append(Route("/metrics", metrics.metrics))
    if not settings.is_production:
        routes.append(graphiql.assets_route())
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={Exception: internal_error}
    )
    # The last added is the outermost: CORS headers on every answer, even a refusal.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(metrics.MetricsMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            max_age=600,
        )
    access_log.redact_query_strings()
    metrics.count_sql_statements()

    return app
