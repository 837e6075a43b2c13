"""The principal: who a request acts for, decoded once per request from its token."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import Forbidden, Unauthenticated
from models.enums import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller. `user_id` is None for anonymous requests."""

    user_id: int | None = None
    role: Role | None = None
    merchant_id: int | None = None
    store_id: int | None = None
    # The session (refresh-token family) the access token belongs to.
    session_id: str | None = None

    @property
    def is_consumer(self) -> bool:
        return self.role is Role.CONSUMER

    @property
    def is_merchant(self) -> bool:
        return self.role is Role.MERCHANT and self.merchant_id is not None

    @property
    def is_regulator(self) -> bool:
        return self.role is Role.REGULATOR

    def require_user(self) -> int:
        if self.user_id is None:
            raise Unauthenticated("Sign in first")
        return self.user_id

    def require_role(self, *roles: Role) -> int:
        """The user id when the caller has one of the roles; else UNAUTHENTICATED or FORBIDDEN."""
        user_id = self.require_user()
        if self.role not in roles:
            names = " or ".join(role.value.lower() for role in roles)
            raise Forbidden(f"Only a {names} may do this")
        return user_id

    def require_merchant(self) -> int:
        """The caller's merchant id; only merchant owners and staff have one."""
        self.require_role(Role.MERCHANT)
        assert self.merchant_id is not None
        return self.merchant_id


ANONYMOUS = Principal()
