"""Thin resolvers: take the principal, decode IDs, call a service or a scoped query, wrap rows."""
