"""Where a case's database lives: CASE_DIR/case.json remembers a non-default database URL.

``cairn scan --db postgresql://...`` records the URL (never a password) so later commands given only
``--case`` reach the same database. Passwords come from the URL given on the command line or from
``PGPASSWORD``/``~/.pgpass`` as libpq reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import make_url

CONFIG_NAME = "case.json"


class CaseConfigError(ValueError):
    """The case folder and the database URL given disagree."""


def _without_password(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(password=None).render_as_string(hide_password=False) if parsed.password else url


def resolve_db_url(case_dir: Path, db_url: str | None) -> str | None:
    """The URL to open for ``case_dir``: the one given (recorded on first use) or the recorded one.

    None means the embedded SQLite database inside the case folder.
    """
    config_path = case_dir / CONFIG_NAME
    recorded: str | None = None
    if config_path.exists():
        recorded = json.loads(config_path.read_text(encoding="utf-8")).get("db_url")
    if db_url is None:
        return recorded
    if recorded is not None and recorded != _without_password(db_url):
        raise CaseConfigError(
            f"case folder {case_dir} belongs to database {recorded}, not {_without_password(db_url)}; "
            "use the same --db, or a new --case folder"
        )
    if recorded is None:
        case_dir.mkdir(parents=True, exist_ok=True)
        config_path.write_text(
            json.dumps({"db_url": _without_password(db_url)}, indent=2) + "\n", encoding="utf-8"
        )
    return db_url
