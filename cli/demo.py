"""Deterministic demo data (placeholder until the full loader lands)."""


async def load_demo(force: bool = False) -> str:
    return "no demo data yet"
