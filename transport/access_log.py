"""uvicorn's access log without the values of query strings.

uvicorn logs each request line whole, and a GET carries its operation and variables in the
query string: a login sent as GET would write a phone number and a password into the log.
The filter keeps the parameter names (`/graphql?query=…&variables=…`) and drops the values.
"""

from __future__ import annotations

import logging

# uvicorn.access logs HTTP requests; uvicorn.error logs WebSocket handshakes the same way.
LOGGERS = ("uvicorn.access", "uvicorn.error")
REDACTED = "…"


class RedactQueryStrings(logging.Filter):
    """Rewrites any argument of a record that is a path with a query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(_has_query(arg) for arg in record.args):
            record.args = tuple(
                redact(arg) if isinstance(arg, str) and _has_query(arg) else arg
                for arg in record.args
            )
        return True


def _has_query(value: object) -> bool:
    return isinstance(value, str) and value.startswith("/") and "?" in value


def redact(path: str) -> str:
    """`/graphql?query=...&variables=...` → `/graphql?query=…&variables=…`."""
    base, _, query = path.partition("?")
    names = [part.partition("=")[0][:40] for part in query.split("&") if part]
    return f"{base}?" + "&".join(f"{name}={REDACTED}" for name in names[:10])


def redact_query_strings() -> None:
    """Install the filter on uvicorn's loggers (once, whatever the number of apps made)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactQueryStrings) for existing in logger.filters):
            logger.addFilter(RedactQueryStrings())
