"""``cairn user`` (the review app's accounts, per case) and ``cairn serve`` (the review app).

Registered on the main app by :mod:`cairn.cli.main`.
"""

from __future__ import annotations

import getpass
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

user_app = typer.Typer(help="Accounts of the review app (`cairn serve`), per case.", no_args_is_help=True)

_Case = Annotated[Path, typer.Option("--case", "-c", help="Case folder (holds the SQLite database).")]
_Db = Annotated[str | None, typer.Option("--db", help="Database URL (default: the case's own).")]


class Role(StrEnum):
    admin = "admin"
    investigator = "investigator"
    reviewer = "reviewer"


def _existing_case(case: Path, db: str | None) -> None:
    """End the command unless ``case`` is a case folder (these commands never create a case)."""
    from cairn.case_config import read_config
    from cairn.cli.main import err

    if not case.is_dir() or (not (case / "case.db").is_file() and db is None and read_config(case).db_url is None):
        err.print(f"[red]No case at {case}.[/] Give the case folder a `cairn scan` made.")
        raise typer.Exit(2)


def read_password(stdin_is_tty: bool | None = None) -> str:
    """The new password: asked twice on a terminal, else the first line of standard input."""
    from cairn.cli.main import err

    tty = sys.stdin.isatty() if stdin_is_tty is None else stdin_is_tty
    if not tty:
        line = sys.stdin.readline(4096)
        return line.removesuffix("\n").removesuffix("\r")
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Password again: ")
    if first != second:
        err.print("[red]The two passwords differ.[/] Nothing was changed.")
        raise typer.Exit(2)
    return first


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Login name: letters, digits, '.', '_', '@', '-' (1-64).")],
    role: Annotated[Role, typer.Option(help="admin manages users; investigator and reviewer categorise.")],
    case: _Case,
    db: _Db = None,
    actor: Annotated[str | None, typer.Option(help="Examiner name for the audit log.")] = None,
) -> None:
    """Add a user to the case (password asked twice on a terminal, else read from stdin); audited."""
    from cairn.cli.main import _open_store, err
    from cairn.store.case_store import default_actor
    from cairn.store.users import UserRefused, add_user, check_name

    _existing_case(case, db)
    try:
        check_name(name)
    except UserRefused as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    password = read_password()
    with _open_store(case, db, create=True) as store:
        try:
            user = add_user(store, name, role.value, password, actor or default_actor())
        except UserRefused as exc:
            err.print(f"[red]{exc}[/] Nothing was changed.")
            raise typer.Exit(2) from exc
    typer.echo(f"added user {user['name']!r} ({user['role']}) to case {store.case_name!r}")


@user_app.command("list")
def user_list(case: _Case, db: _Db = None) -> None:
    """List the case's users and roles (never a password)."""
    from cairn.cli.main import _open_store
    from cairn.store.users import list_users

    with _open_store(case, db, create=False) as store:
        for user in list_users(store):
            typer.echo(f"{user['name']:<24} {user['role']:<13} added {user['created_at']} by {user['created_by']}")


class Scheme(StrEnum):
    vic_us = "vic-us"
    dhs = "dhs"
    caid = "caid"


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def serve(
    case: _Case,
    db: _Db = None,
    host: Annotated[str, typer.Option(help="Address to listen on (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8765,
    scheme: Annotated[Scheme, typer.Option(help="Category scheme reviewers categorise in.")] = Scheme.vic_us,
) -> None:
    """Serve the review app for the case: log in, review blurred pictures, categorise; everything audited."""
    import uvicorn

    from cairn.cli.main import _open_store, err
    from cairn.review.app import ReviewState, create_app
    from cairn.store.users import count_users

    _existing_case(case, db)
    with _open_store(case, db, create=True) as store:
        if count_users(store) == 0:
            err.print(
                f"[red]The case has no users, so nobody could log in.[/] Add one first: "
                f"`cairn user add NAME --role reviewer --case {case}` (and an admin: `--role admin`)."
            )
            raise typer.Exit(2)
        if host not in _LOOPBACK:
            err.print(f"[yellow]Listening on {host}: other machines can reach the login page.[/]")
        # Host headers answered (against DNS rebinding); any for a wildcard or IPv6 address
        allowed = None if host == "0.0.0.0" or ":" in host else sorted({host, "127.0.0.1", "localhost"})
        state = ReviewState(store, scheme=scheme.value)
        state.warm()
        app = create_app(state, allowed_hosts=allowed)
        typer.echo(f"cairn review of case {store.case_name!r}: http://{host}:{port}/ (Ctrl-C stops)")
        uvicorn.run(app, host=host, port=port, log_level="warning")
