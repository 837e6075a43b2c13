"""`anfu persisted`: the trusted-documents manifest built from the clients' `.graphql` files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.environment import fail

persisted_app = typer.Typer(help="Persisted operations (trusted documents).", no_args_is_help=True)


@persisted_app.command("build")
def build(
    clients: Annotated[
        Path | None,
        typer.Option(help="Directory of <client>/*.graphql; default: the project's clients/"),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: manifest.json in the clients")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when the file is out of date")
    ] = False,
) -> None:
    """Check every client document against the schema and write the manifest (hash → document,
    with its clients and operation name) that the server loads."""
    from schema import schema
    from services.persisted import PROJECT_CLIENTS, ManifestError, build_manifest, manifest_text

    clients = clients or PROJECT_CLIENTS
    output = output or clients / "manifest.json"
    if not clients.is_dir():
        fail(f"{clients} is not a directory")
    try:
        manifest = build_manifest(clients, schema._schema)
    except ManifestError as error:
        fail(str(error))
    text = manifest_text(manifest)
    count = len(manifest["documents"])
    if check:
        if not output.is_file() or output.read_text(encoding="utf-8") != text:
            typer.echo(f"{output} is out of date: run `anfu persisted build`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} is up to date ({count} documents)")
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {count} documents to {output}")
