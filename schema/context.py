"""What every resolver gets: the request, the principal, per-request loaders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from strawberry.types import Info as StrawberryInfo

from core.errors import DomainError
from core.principal import ANONYMOUS, Principal
from core.public_cache import is_public
from schema.loaders import Loaders
from services.persisted import PersistedPolicy


@dataclass
class Context:
    principal: Principal = ANONYMOUS
    # A token that was sent but is not valid: the operation is refused before it runs.
    auth_error: DomainError | None = None
    client_address: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    request: Any = None
    # Set by the WebSocket protocol from connection_init.
    connection_params: dict[str, Any] | None = None
    response: Any = None
    # The server's persisted-operations policy (schema/persisted.py); None outside a server.
    persisted: PersistedPolicy | None = None
    # The operation's name once its document is known (schema/errors.py), for logs and metrics.
    operation_name: str | None = None

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(public=is_public(self.principal))

    def reset_loaders(self) -> None:
        """Forget cached rows (a subscription does so before each event)."""
        self.__dict__.pop("loaders", None)


Info = StrawberryInfo[Context, None]
