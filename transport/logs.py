"""The server's logs: one JSON object per line (production default) or plain text (development
default), setting ANFU_LOG_FORMAT; and one line per GraphQL request over HTTP.

A request's line carries its id, operation name, role, duration and outcome, never its
variables, headers or document: phones, passwords and tokens travel only there.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

from settings import Settings

requests_log = logging.getLogger("anfu.requests")

# What a request's line adds to the message, in this order.
REQUEST_FIELDS = ("request_id", "operation", "role", "duration_ms", "outcome", "status")
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", request fields when present, "exception"}."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in REQUEST_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str)


class TextFormatter(logging.Formatter):
    """`time level logger message key=value ...` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        pairs = [
            f"{field}={getattr(record, field)}"
            for field in REQUEST_FIELDS
            if getattr(record, field, None) is not None
        ]
        if not pairs:
            return line
        head, newline, trace = line.partition("\n")
        return f"{head} {' '.join(pairs)}{newline}{trace}"


def log_config(settings: Settings) -> dict[str, Any]:
    """logging.config.dictConfig for uvicorn (`log_config=`): every logger, uvicorn's access
    log included, through one handler on stderr in the chosen format."""
    formatter = JsonFormatter if settings.log_json else TextFormatter
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"anfu": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "anfu",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            # uvicorn's own handlers go: its lines reach the root handler in the same format.
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": True, "level": level},
        },
        "root": {"handlers": ["stderr"], "level": level},
    }


def operation_name(name: str | None) -> str | None:
    """A GraphQL name as sent, or "invalid" for anything else a client put there."""
    if name is None:
        return None
    return name if _NAME.fullmatch(name) else "invalid"


def log_request(
    *,
    request_id: str | None,
    operation: str | None,
    role: str,
    seconds: float,
    outcome: str,
    status: int,
) -> None:
    level = logging.WARNING if outcome == "INTERNAL_SERVER_ERROR" else logging.INFO
    if not requests_log.isEnabledFor(level):
        return
    requests_log.log(
        level,
        "graphql request",
        extra={
            "request_id": request_id,
            "operation": operation_name(operation) or "anonymous",
            "role": role,
            "duration_ms": round(seconds * 1000, 2),
            "outcome": outcome,
            "status": status,
        },
    )
