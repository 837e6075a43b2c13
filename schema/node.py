"""The Relay Node interface."""

import strawberry


@strawberry.interface(description="An object with a global ID that `node(id:)` resolves.")
class Node:
    id: strawberry.ID
