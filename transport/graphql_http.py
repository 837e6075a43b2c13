"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/) on strawberry's ASGI view.

- The response is `application/graphql-response+json` when the Accept header prefers it: a
  request that fails before execution (parse, validation, variables, limits) then has no `data`
  entry and a 4xx status (400; 401 UNAUTHENTICATED, 403 FORBIDDEN, 429 RATE_LIMITED; an unknown
  persisted query stays 200, which is what Apollo's link retries on). Otherwise it is
  `application/json` with 200 for every well-formed request, as before.
- Every failure of the HTTP request itself is a GraphQL error body with code BAD_REQUEST, never
  plain text: a body that is empty, not UTF-8, not JSON, JSON nested too deeply, not an object,
  or a batch (400); a content type other than application/json (415); no query (400); a
  mutation over GET (405, Allow: POST); another method (405, Allow: GET, POST).
- An operation still running after the time budget is stopped: QUERY_TOO_COMPLEX.
- Each request is counted for /metrics (transport/metrics.py) and logged in one line
  (transport/logs.py) with its operation name, role, duration and outcome.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from core.errors import ErrorCode
from schema.context import Context
from schema.limits import too_complex
from transport import logs, metrics
from transport.responses import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    content_type,
    error_response,
    response_media_type,
)

# Status of a request error (no data) in application/graphql-response+json, by its first code.
REQUEST_ERROR_STATUS = {
    ErrorCode.UNAUTHENTICATED.value: 401,
    ErrorCode.FORBIDDEN.value: 403,
    ErrorCode.RATE_LIMITED.value: 429,
    ErrorCode.PERSISTED_QUERY_NOT_FOUND.value: 200,
    ErrorCode.INTERNAL_SERVER_ERROR.value: 500,
}


class TransportError(Exception):
    """The HTTP request is not a GraphQL request this server reads."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class UnreadableJSON(json.JSONDecodeError):
    """JSON that is not UTF-8 or nests too deeply (a JSONDecodeError, so WebSocket
    messages like it are refused as non-JSON)."""

    def __init__(self, message: str, document: str) -> None:
        super().__init__(message, document, 0)
        self.reason = message


class SubResponse(Response):
    """What resolvers may set on the answer (headers, a status), and its media type."""

    def __init__(self, graphql_media_type: str) -> None:
        super().__init__()
        self.graphql_media_type = graphql_media_type
        # As strawberry's own: no status until someone sets one, no length of its own.
        self.status_code = None  # type: ignore[assignment]
        del self.headers["content-length"]


class GraphQLOverHTTP(GraphQL[Context, None]):
    """strawberry's view with the spec's media types, status codes and error bodies."""

    request_timeout_seconds: float = 10.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope=scope, receive=receive)
        accept = request.headers.get("accept")
        request.state.media_type = response_media_type(accept)
        response: Response | None = None
        try:
            try:
                response = await self.run(request)
            except ClientDisconnect:
                # The client left before its body arrived: nobody to answer, nothing failed.
                request.state.client_left = True
                return
            except TransportError as error:
                request.state.error_codes = [ErrorCode.BAD_REQUEST.value]
                response = error_response(
                    error.status, error.message, accept, headers=error.headers
                )
            except HTTPException as error:  # strawberry's own refusals
                request.state.error_codes = [ErrorCode.BAD_REQUEST.value]
                headers = {"Allow": "GET, POST"} if error.status_code == 405 else None
                response = error_response(error.status_code, error.reason, accept, headers=headers)
            await response(scope, receive, send)
        finally:
            _note(request, response, time.perf_counter() - started)

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub_response = SubResponse(getattr(request.state, "media_type", JSON))
        request.state.sub_response = sub_response
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if isinstance(sub_response, SubResponse):
            response.headers["content-type"] = content_type(sub_response.graphql_media_type)
        return response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        request.state.error_codes = [
            code
            for error in result.errors or []
            if isinstance(code := (error.extensions or {}).get("code"), str)
        ]
        sub_response = getattr(request.state, "sub_response", None)
        if (
            isinstance(sub_response, SubResponse)
            and sub_response.graphql_media_type == GRAPHQL_RESPONSE_JSON
            and _is_request_error(result)
        ):
            # The spec: a request error has no data entry, and a 4xx status says it did not run.
            response.pop("data", None)
            if not sub_response.status_code:
                sub_response.status_code = _request_error_status(result)
        return response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method != "POST":
            return await super().parse_http_body(request)
        media_type, _params = parse_content_type(request.content_type or "")
        if media_type != JSON:
            raise TransportError(
                415,
                f"Send the operation as JSON with Content-Type: {JSON}"
                + (f", not {media_type}" if media_type else ""),
            )
        body = await request.get_body()
        if not body.strip():
            raise TransportError(400, 'The request body is empty: send {"query": "..."}')
        data = self.parse_json(body)
        if isinstance(data, list):
            raise TransportError(400, "Batching is off: send one operation per request")
        if not isinstance(data, dict):
            raise TransportError(
                400, 'The request body must be a JSON object such as {"query": "{ __typename }"}'
            )
        return _request_data(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except UnreadableJSON as error:
            raise TransportError(400, error.reason) from error
        except json.JSONDecodeError as error:
            raise TransportError(
                400, f"The request is not valid JSON: {error.msg} (at character {error.pos})"
            ) from error

    def decode_json(self, data: str | bytes) -> object:
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise UnreadableJSON(
                    f"The request is not UTF-8 text (byte {error.start})", ""
                ) from error
        try:
            return json.loads(data)
        except RecursionError:
            raise UnreadableJSON("The JSON is nested too deeply", "") from None

    async def execute_operation(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        request.state.graphql_context = kwargs.get("context")
        request.state.graphql_request = kwargs.get("request_data")
        budget = asyncio.timeout(self.request_timeout_seconds)
        try:
            async with budget:
                return await super().execute_operation(request, *args, **kwargs)
        except TimeoutError:
            if not budget.expired():
                raise
            seconds = self.request_timeout_seconds
            error = too_complex(
                f"The operation ran past its time budget of {seconds:g} s and was stopped; "
                "ask for less (setting request_timeout_seconds)",
                "request_timeout_seconds",
                round(seconds),
                None,
            )
            return ExecutionResult(data=None, errors=[error])

    async def execute_single(
        self, request: Request, request_adapter: AsyncHTTPRequestAdapter, *args: Any, **kwargs: Any
    ) -> ExecutionResult:
        try:
            return await super().execute_single(request, request_adapter, *args, **kwargs)
        except HTTPException as error:
            cause = error.__cause__
            if isinstance(cause, InvalidOperationTypeError):
                kind = {
                    OperationType.MUTATION: "A mutation",
                    OperationType.SUBSCRIPTION: "A subscription",
                }.get(cause.operation_type, "This operation")
                raise TransportError(
                    405,
                    f"{kind} cannot be sent with {request_adapter.method}: use POST"
                    + (" (subscriptions: the WebSocket)" if kind == "A subscription" else ""),
                    headers={"Allow": "POST"},
                ) from error
            if isinstance(cause, MissingQueryError):
                raise TransportError(
                    400,
                    "No GraphQL query in the request: send `query`, or a persisted query's hash",
                ) from error
            raise


def _note(request: Request, response: Response | None, seconds: float) -> None:
    """Count and log a GraphQL request; the IDE's page (no operation ran) is neither."""
    if getattr(request.state, "client_left", False):
        return
    codes: list[str] | None = getattr(request.state, "error_codes", None)
    if response is None:  # an exception nothing here caught: the app answers 500
        codes = [ErrorCode.INTERNAL_SERVER_ERROR.value]
    if codes is None:
        return
    context = getattr(request.state, "graphql_context", None)
    data = getattr(request.state, "graphql_request", None)
    operation = getattr(context, "operation_name", None) or getattr(data, "operation_name", None)
    principal = getattr(context, "principal", None)
    role = getattr(getattr(principal, "role", None), "value", None) or "ANONYMOUS"
    outcome = metrics.observe_graphql(operation, codes, seconds)
    logs.log_request(
        request_id=getattr(context, "request_id", None),
        operation=operation,
        role=role,
        seconds=seconds,
        outcome=outcome,
        status=response.status_code if response is not None else 500,
    )


def _request_data(data: dict[str, Any]) -> GraphQLRequestData:
    """The operation of a JSON body, each parameter of the type the spec gives it."""
    expected = {
        "query": (str, "a string"),
        "operationName": (str, "a string"),
        "variables": (dict, "an object"),
        "extensions": (dict, "an object"),
    }
    for name, (kind, described) in expected.items():
        value = data.get(name)
        if value is not None and not isinstance(value, kind):
            raise TransportError(400, f"`{name}` must be {described} or null")
    return GraphQLRequestData(
        query=data.get("query"),
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
    )


def _is_request_error(result: ExecutionResult) -> bool:
    """Refused before execution: no data, and no error at a field's path."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(not error.path for error in errors)


def _request_error_status(result: ExecutionResult) -> int:
    code = ((result.errors or [])[0].extensions or {}).get("code")
    return REQUEST_ERROR_STATUS.get(code, 400) if isinstance(code, str) else 400
