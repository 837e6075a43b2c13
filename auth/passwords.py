"""Password hashing with Argon2id (memory-hard).

Hashing costs tens of milliseconds of CPU and 19 MiB: the async helpers run it
on a small pool of threads (argon2 releases the GIL) so that a login never
stalls the event loop, and the pool's size bounds the memory a login flood can take.
"""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import BadInput

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128


@functools.cache
def _hasher() -> PasswordHasher:
    # 19 MiB, 2 passes: OWASP's baseline for Argon2id.
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")


def check_password_policy(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise BadInput(f"A password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
    if password.isdigit() or password.isalpha():
        raise BadInput("A password mixes letters with digits or symbols")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    """hash_password off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_pool(), hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    """verify_password off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(
        _pool(), verify_password, password_hash, password
    )


# Verified against when the phone is unknown, so that a miss costs as much as a hit.
@functools.cache
def dummy_hash() -> str:
    return hash_password("not-a-real-password-0")
