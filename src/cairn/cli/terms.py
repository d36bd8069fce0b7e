"""``cairn terms``: investigators' own term lists, and where a case's model files and prompts hit them.

cairn ships no term list. Registered on the main app by :mod:`cairn.cli.main`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

terms_app = typer.Typer(
    help="Your own term lists (one word or phrase per line): matched against LoRA training data and prompts.",
    no_args_is_help=True,
)

_Case = Annotated[Path, typer.Option("--case", "-c", help="Case folder (holds the SQLite database).")]
_Db = Annotated[str | None, typer.Option("--db", help="Database URL (default: the case's own).")]


@terms_app.command("import")
def terms_import(
    file: Annotated[Path, typer.Argument(help="UTF-8 text, one term per line; # starts a comment line.")],
    case: _Case,
    name: Annotated[str | None, typer.Option(help="The list's name (default: the file's name).")] = None,
    db: _Db = None,
    actor: Annotated[str | None, typer.Option(help="Examiner name for the audit log.")] = None,
) -> None:
    """Import a term list into the case's database (every case there can use it); audited without its terms."""
    from cairn.cli.main import _open_store, err
    from cairn.matching.terms import TermListError
    from cairn.store.case_store import default_actor
    from cairn.store.terms import TermListRefused

    if not file.is_file():
        err.print(f"[red]No file at {file}.[/]")
        raise typer.Exit(2)
    with _open_store(case, db, create=True) as store:
        try:
            summary = store.import_terms(file, actor=actor or default_actor(), name=name)
        except (TermListError, TermListRefused) as exc:
            err.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from exc
    typer.echo(
        f"imported term list {summary['name']!r}: {summary['terms']:,} terms ({summary['skipped']:,} lines skipped); "
        f"SHA-256 {summary['source_sha256']}"
    )
    for warning in summary["warnings"][:20]:
        err.print(f"  {warning}")


@terms_app.command("list")
def terms_list(case: _Case, db: _Db = None) -> None:
    """List the term lists of the case's database (names, counts, digests; never the terms)."""
    from cairn.cli.main import _open_store

    with _open_store(case, db, create=False) as store:
        lists = store.term_lists()
    if not lists:
        typer.echo("no term lists in this database (import one with `cairn terms import FILE --case CASE_DIR`)")
        return
    table = Table("name", "terms", "file", "imported", "by", "source SHA-256", title="term lists")
    for row in lists:
        table.add_row(
            row["name"], f"{row['term_count']:,}", row["source_name"], row["imported_at"], row["imported_by"],
            row["source_sha256"],
        )
    Console(width=200).print(table)


@terms_app.command("hits")
def terms_hits(
    case: _Case,
    db: _Db = None,
    list_names: Annotated[
        list[str] | None, typer.Option("--list", help="Only these lists (repeat the option); default: all.")
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table or json (one object per line).")] = "table",
) -> None:
    """Where the case's model files (LoRA tags, dataset folders, output names, trigger phrases, comments, the
    metadata text) and generation records (prompts, negative prompts) hit the term lists."""
    from cairn.cli.main import _open_store, err

    if format not in ("table", "json"):
        err.print(f"[red]Unknown format {format!r}:[/] choose table or json.")
        raise typer.Exit(2)
    with _open_store(case, db, create=False) as store:
        try:
            hits = [h.as_dict() for h in store.term_hits(list_names or None)]
        except KeyError as exc:
            err.print(f"[red]No term list named {exc.args[0]!r}[/] (see `cairn terms list --case {case}`).")
            raise typer.Exit(2) from exc
    if format == "json":
        for hit in hits:
            typer.echo(json.dumps(hit, ensure_ascii=False))
        return
    table = Table("file", "in", "field", "list", "term", "text", title=f"term hits: {len(hits):,}")
    for hit in hits:
        table.add_row(hit["path"], hit["source"], hit["field"], hit["list"], hit["term"], hit["excerpt"])
    Console(width=200).print(table)
