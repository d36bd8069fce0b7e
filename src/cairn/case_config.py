"""What a case folder says about its case: ``CASE_DIR/case.json``.

* ``uid``: the case's identity, a uuid4 written here when the case is created (before its database row,
  so a case row with a uid always has a folder that names it) and into ``cases.uid``. A case is found by
  this id, never by the folder's name, so a folder copied or renamed (to an exhibit drive, say) still
  opens its case. Cases made before ids existed get one on their next write command.
* ``db_url``: a non-default database URL, recorded by ``cairn scan --db postgresql://...`` so later
  commands given only ``--case`` reach the same database. Never a password: passwords come from the URL
  given on the command line or from ``PGPASSWORD``/``~/.pgpass`` as libpq reads them.

Only write commands write this file (:func:`record`, an atomic replace that keeps every other key); read
commands only read it (:func:`read_config`, ``resolve_db_url(..., record_url=False)``).
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

CONFIG_NAME = "case.json"


class CaseConfigError(ValueError):
    """The case folder's ``case.json`` is unreadable, or it and the database URL given disagree."""


@dataclass(frozen=True)
class CaseConfig:
    """The contents of ``case.json`` (all None for a folder without one)."""

    uid: str | None = None
    db_url: str | None = None


def new_uid() -> str:
    """A fresh case id (uuid4, 36 characters)."""
    return str(uuid.uuid4())


def _without_password(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(password=None).render_as_string(hide_password=False) if parsed.password else url


def _read_raw(case_dir: Path) -> dict[str, Any]:
    path = case_dir / CONFIG_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CaseConfigError(f"{path} is unreadable ({exc}); restore it from a copy of the case folder") from exc
    if not isinstance(raw, dict):
        raise CaseConfigError(f"{path} is not a JSON object; restore it from a copy of the case folder")
    return raw


def read_config(case_dir: Path) -> CaseConfig:
    """What ``case_dir/case.json`` says (never writes; a missing file says nothing)."""
    raw = _read_raw(case_dir)
    uid, db_url = raw.get("uid"), raw.get("db_url")
    for key, value in (("uid", uid), ("db_url", db_url)):
        if value is not None and not isinstance(value, str):
            raise CaseConfigError(f"{case_dir / CONFIG_NAME}: {key} must be text, not {value!r}")
    return CaseConfig(uid=uid, db_url=db_url)


def record(case_dir: Path, **values: str) -> None:
    """Set ``values`` in ``case_dir/case.json``, keeping its other keys (temp file, fsync, ``os.replace``)."""
    raw = _read_raw(case_dir)
    raw.update(values)
    case_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".case.", suffix=".tmp", dir=case_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(raw, indent=2, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, case_dir / CONFIG_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def resolve_db_url(case_dir: Path, db_url: str | None, *, record_url: bool = True) -> str | None:
    """The URL to open for ``case_dir``: the one given (recorded on first use) or the recorded one.

    None means the embedded SQLite database inside the case folder. ``record_url=False`` (read commands)
    never writes ``case.json``.
    """
    recorded = read_config(case_dir).db_url
    if db_url is None:
        return recorded
    if recorded is not None and recorded != _without_password(db_url):
        raise CaseConfigError(
            f"case folder {case_dir} belongs to database {recorded}, not {_without_password(db_url)}; "
            "use the same --db, or a new --case folder"
        )
    if recorded is None and record_url:
        record(case_dir, db_url=_without_password(db_url))
    return db_url
