"""What every command needs before its work: valid settings and an open database. When either
is missing the command prints one line saying what is wrong (naming the database it tried,
never a password or a rejected secret) and exits 2, instead of a page of traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from settings import Settings, get_settings

T = TypeVar("T")

# The exit status of a command that could not start: bad settings, no database.
CANNOT_START = 2


def load_settings() -> Settings:
    """The settings from the environment, or exit naming what is wrong with them."""
    try:
        return get_settings()
    except ValidationError as error:
        fail("; ".join(_settings_problem(problem) for problem in error.errors()))


def _settings_problem(problem: ErrorDetails) -> str:
    """One problem pydantic found, without its input (which may be a secret)."""
    message = problem["msg"].removeprefix("Value error, ")
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where.upper()}: {message}" if where else message


def run_with_database(work: Callable[[], Awaitable[T]], *, create: bool = False) -> T:
    """Open the database from DATABASE_URL, run `work`, close it.

    A database that cannot be opened ends the command with one line naming it. A SQLite file
    that does not exist is refused rather than created empty, unless `create` (for migrate).
    """
    from tortoise import Tortoise, connections

    settings = load_settings()
    url = settings.database_url
    path = sqlite_file(url)
    if path is not None and not path.exists():
        if not create:
            _cannot_open(url, "the file does not exist (run `anfu migrate` or set DATABASE_URL)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            _cannot_open(url, _reason(error))

    async def main() -> T:
        try:
            await Tortoise.init(config=settings.tortoise_config(), _enable_global_fallback=True)
            await connections.get("default").execute_query("SELECT 1")
        except _opening_errors() as error:
            with contextlib.suppress(Exception):
                await Tortoise.close_connections()
            raise _Unavailable(_reason(error)) from error
        try:
            return await work()
        finally:
            await Tortoise.close_connections()

    try:
        return asyncio.run(main())
    except _Unavailable as error:
        _cannot_open(url, str(error))


def sqlite_file(url: str) -> Path | None:
    """The file a sqlite:// DATABASE_URL names (None for other databases and :memory:)."""
    if not url.startswith("sqlite://"):
        return None
    name = url.removeprefix("sqlite://").split("?", 1)[0]
    return None if name in ("", ":memory:") else Path(name)


def shown_database(url: str) -> str:
    """DATABASE_URL as it may be printed: passwords masked, a SQLite file's full path added."""
    path = sqlite_file(url)
    if path is not None:
        return f"{url} ({path.resolve()})"
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username or ''}:***@{netloc.rpartition('@')[2]}"
    query = urlencode(
        [
            (key, "***" if key.lower() == "password" else value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(CANNOT_START)


class _Unavailable(Exception):
    """The database could not be opened; the message says why."""


def _opening_errors() -> tuple[type[BaseException], ...]:
    import asyncpg
    from tortoise.exceptions import BaseORMException

    return (OSError, sqlite3.Error, asyncpg.PostgresError, BaseORMException)


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _cannot_open(url: str, reason: str) -> NoReturn:
    password = urlsplit(url).password
    if password:
        reason = reason.replace(password, "***")
    fail(f"cannot open the database {shown_database(url)}: {reason}")
