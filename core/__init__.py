"""What every layer may import: domain errors with their codes, the clock, the principal
and the shared cache. It imports nothing above models (docs/architecture.md)."""
