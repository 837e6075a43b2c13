"""Content negotiation and the error body every transport failure answers with."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from core.errors import ErrorCode

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"


def response_media_type(accept: str | None) -> str:
    """application/graphql-response+json when the client prefers it (ties included), else JSON."""
    graphql_q = json_q = 0.0
    for part in (accept or "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media == GRAPHQL_RESPONSE_JSON:
            graphql_q = max(graphql_q, q)
        elif media in (JSON, "application/*", "*/*"):
            json_q = max(json_q, q)
    return GRAPHQL_RESPONSE_JSON if graphql_q > 0 and graphql_q >= json_q else JSON


def content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8"


def error_response(
    status: int,
    message: str,
    accept: str | None,
    code: ErrorCode = ErrorCode.BAD_REQUEST,
    headers: dict[str, str] | None = None,
) -> Response:
    """A GraphQL response with one request error and no data entry."""
    body = {"errors": [{"message": message, "extensions": {"code": code.value}}]}
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        headers={**(headers or {}), "content-type": content_type(response_media_type(accept))},
    )


async def internal_error(request: Request, _error: Exception) -> Response:
    """An exception nothing else caught: a GraphQL error body; the trace goes to the log."""
    return error_response(
        500,
        "Internal server error",
        request.headers.get("accept"),
        code=ErrorCode.INTERNAL_SERVER_ERROR,
    )
