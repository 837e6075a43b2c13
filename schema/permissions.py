"""Who may call a field: the one place an operation's role rule is declared.

Each root field (and each field only some roles may read) names its rule next to
its declaration, as `extensions=[allow(Role.REGULATOR)]`. The rule runs before
the resolver; a caller without a token is UNAUTHENTICATED, one with another
role FORBIDDEN (domain errors, so schema/errors.py gives them their codes).
Whose objects a permitted caller may touch is scoping's job (auth/scoping.py),
which answers NOT_FOUND for the rest.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from models.enums import Role


class RoleRule(BasePermission):
    """Allows callers signed in with one of `roles`; an empty tuple allows anyone."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = roles

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if self.roles:
            info.context.principal.require_role(*self.roles)
        return True


def allow(*roles: Role) -> PermissionExtension:
    """The field's rule: only these roles (at least one)."""
    if not roles:
        raise ValueError("name the roles, or use anyone()")
    return PermissionExtension([RoleRule(roles)], use_directives=False)


def anyone() -> PermissionExtension:
    """The field's rule: everyone, anonymous callers included."""
    return PermissionExtension([RoleRule(())], use_directives=False)


def rule_of(extensions: list[Any]) -> tuple[Role, ...] | None:
    """The roles a field's declared rule allows (() for anyone), or None when it declares none."""
    rules = [
        permission.roles
        for extension in extensions
        if isinstance(extension, PermissionExtension)
        for permission in extension.permissions
        if isinstance(permission, RoleRule)
    ]
    return rules[0] if len(rules) == 1 else None
