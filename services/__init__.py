"""Business rules. Nothing here knows about GraphQL or HTTP; errors carry an ErrorCode."""
