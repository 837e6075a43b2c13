"""`anfu credit`: recompute every merchant's credit score, and report the grades or one score."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli.environment import run_with_database

credit_app = typer.Typer(help="Credit scores.", no_args_is_help=True)


@credit_app.command("recompute")
def recompute() -> None:
    """Score every approved merchant that is not closed, then print the grade distribution."""
    from tqdm import tqdm

    from services import credit_scores

    async def work() -> str:
        total = await credit_scores.merchants_to_rescore()
        with tqdm(total=total, unit="merchant", desc="credit", file=sys.stderr) as bar:
            scored = await credit_scores.recompute_all(progress=bar.update)
        return f"scored {scored} merchant(s)\n" + await _distribution_text()

    typer.echo(run_with_database(work))


@credit_app.command("report")
def report(
    merchant: Annotated[
        str | None,
        typer.Argument(help="A merchant's id, credit code or exact name; omit for every grade"),
    ] = None,
) -> None:
    """Print the grade distribution, or one merchant's current score with every factor."""
    if merchant is None:
        typer.echo(run_with_database(_distribution_text))
        return

    async def one() -> str | None:
        return await _merchant_text(merchant)

    text = run_with_database(one)
    if text is None:
        typer.echo(f"error: no merchant with id, credit code or name {merchant!r}", err=True)
        raise typer.Exit(2)
    typer.echo(text)


async def _distribution_text() -> str:
    from services import credit_scores

    counts = await credit_scores.grade_distribution()
    total = sum(counts.values())
    lines = [f"{'grade':<10}{'merchants':>10}{'share':>9}"]
    for grade, count in counts.items():
        share = f"{100 * count / total:.1f} %" if total else "-"
        lines.append(f"{grade.value if grade else 'unscored':<10}{count:>10}{share:>9}")
    lines.append(f"{'total':<10}{total:>10}")
    return "\n".join(lines)


async def _merchant_text(wanted: str) -> str | None:
    from models import Merchant
    from services import credit_scores

    query = Merchant.filter(credit_code=wanted.strip().upper())
    if wanted.strip().isdigit() and int(wanted) < 2**31:
        query = Merchant.filter(id=int(wanted))
    merchant = await query.order_by("-id").first()
    if merchant is None:
        merchant = await Merchant.filter(name=wanted.strip()).order_by("-id").first()
    if merchant is None:
        return None
    heading = f"{merchant.name} (merchant {merchant.id}, {merchant.credit_code}, {merchant.status})"
    current = await credit_scores.latest(merchant.id)
    if current is None:
        return f"{heading}\nno credit score yet"
    score, factors = current
    lines = [
        heading,
        f"score {score.score}, grade {score.grade}, model {score.model_version}, "
        f"computed {score.computed_at.isoformat(timespec='seconds')}",
        "",
        f"{'factor':<40}{'earned':>7}{'of':>6}{'value':>14}",
    ]
    for factor in factors:
        lines.append(
            f"{factor.name:<40}{factor.contribution:>7.0f}{1000 * factor.weight:>6.0f}"
            f"{factor.value:>14,.2f}"
        )
        lines.append(f"    {factor.explanation}")
    lines.append(f"{'total':<40}{sum(f.contribution for f in factors):>7.0f}{1000:>6}")
    return "\n".join(lines)
