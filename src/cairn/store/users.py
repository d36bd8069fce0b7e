"""Local accounts of the review app (``cairn user add``, ``cairn serve``), stored per case.

A user belongs to one case (names are unique within it): an account of case A never opens case B, even when
both cases share one database. Passwords are kept only as argon2id hashes (argon2-cffi's defaults). Adding a
user is audited in the case's hash-chained log (``user.added``: name, role; never the password or its hash), as
are a change of one's viewing settings (``user.settings_changed``), a password change (``user.password_changed``)
and an admin disabling or enabling an account (``user.disabled``, ``user.enabled``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from cairn.store import audit as _audit
from cairn.store.db import read_connection, write_connection
from cairn.store.schema import users

if TYPE_CHECKING:
    from cairn.store.case_store import CaseStore

#: The roles, most powerful first: admin manages users; investigator and reviewer categorise.
ROLES = ("admin", "investigator", "reviewer")

#: Roles that may reveal and categorise media (an admin account manages accounts; it reviews nothing).
CATEGORISING_ROLES = frozenset({"investigator", "reviewer"})

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")

#: The blur radii a user may choose for the grid's thumbnails (never 0: thumbnails leave the server blurred).
BLUR_LEVELS = (4, 8, 12, 16)
DEFAULT_BLUR = 12

_HASHER = PasswordHasher()  # argon2id
#: Verified against when a name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("cairn-no-such-user-password")


class UserRefused(ValueError):
    """A name, role or password that cannot be stored, or a name already taken in the case."""


@dataclass(frozen=True)
class User:
    """A user of one case, as the app sees it (no password hash)."""

    id: int
    case_id: int
    name: str
    role: str
    blur_radius: int = DEFAULT_BLUR
    greyscale: bool = True


def check_name(name: str) -> str:
    """``name`` when it is 1-64 characters of letters, digits, ``. _ @ -`` (starting with a letter or digit)."""
    if not _NAME.fullmatch(name):
        raise UserRefused(
            f"user name {name[:80]!r} refused: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a "
            "letter or digit"
        )
    return name


def check_password(password: str) -> str:
    """``password`` when it has MIN_PASSWORD..MAX_PASSWORD characters and no line break."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserRefused(f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if "\n" in password or "\r" in password:
        raise UserRefused("a password cannot hold a line break")
    return password


def check_role(role: str) -> str:
    """``role`` when it is one of :data:`ROLES`."""
    if role not in ROLES:
        raise UserRefused(f"role {role!r} refused: one of {', '.join(ROLES)}")
    return role


def add_user(store: CaseStore, name: str, role: str, password: str, actor: str) -> dict[str, Any]:
    """Add user ``name`` with ``role`` to the store's case and audit ``user.added`` in the same transaction.

    ``UserRefused`` for a bad name, role or password or a name taken in this case. Returns the user's
    id, name, role, created_at, created_by.
    """
    check_name(name)
    check_role(role)
    check_password(password)
    digest = _HASHER.hash(password)
    now = _audit.utc_now()
    with write_connection(store._engine) as conn:
        store._lock_case(conn)
        taken = conn.execute(
            select(users.c.id).where(users.c.case_id == store.case_id, users.c.name == name)
        ).first()
        if taken is not None:
            raise UserRefused(f"user {name!r} already exists in this case")
        user_id = int(
            conn.execute(
                users.insert().returning(users.c.id),
                {"case_id": store.case_id, "name": name, "role": role, "password_hash": digest,
                 "created_at": now, "created_by": actor},
            ).scalar_one()
        )
        entry = store._append(conn, "user.added", {"user_id": user_id, "name": name, "role": role}, actor)
    store._anchor(entry)
    return {"id": user_id, "name": name, "role": role, "created_at": now, "created_by": actor}


def list_users(store: CaseStore) -> list[dict[str, Any]]:
    """The case's users by name: id, name, role, created_at, created_by, disabled (never the hash)."""
    with read_connection(store._engine) as conn:
        rows = conn.execute(
            select(users.c.id, users.c.name, users.c.role, users.c.created_at, users.c.created_by,
                   users.c.disabled)
            .where(users.c.case_id == store.case_id)
            .order_by(users.c.name)
        ).mappings()
        return [dict(r) for r in rows]


def count_users(store: CaseStore) -> int:
    """How many users the case has."""
    return len(list_users(store))


def authenticate(store: CaseStore, name: str, password: str) -> User | None:
    """The case's user ``name`` when ``password`` is theirs and the account is not disabled, else None (an
    unknown name takes as long)."""
    if len(name) > 64 or len(password) > MAX_PASSWORD:
        _verify(_DUMMY_HASH, "x")
        return None
    with read_connection(store._engine) as conn:
        row = conn.execute(
            select(*_USER_COLUMNS, users.c.password_hash, users.c.disabled)
            .where(users.c.case_id == store.case_id, users.c.name == name)
        ).mappings().first()
    if row is None:
        _verify(_DUMMY_HASH, password)
        return None
    if not _verify(str(row["password_hash"]), password) or bool(row["disabled"]):
        return None
    return _user(store, row)


_USER_COLUMNS = (users.c.id, users.c.name, users.c.role, users.c.blur_radius, users.c.greyscale)


def _user(store: CaseStore, row: Any) -> User:
    return User(int(row["id"]), store.case_id, str(row["name"]), str(row["role"]), int(row["blur_radius"]),
                bool(row["greyscale"]))


def get_user(store: CaseStore, user_id: int) -> User | None:
    """The case's user with id ``user_id`` (None when there is none in this case)."""
    with read_connection(store._engine) as conn:
        row = conn.execute(
            select(*_USER_COLUMNS).where(users.c.case_id == store.case_id, users.c.id == user_id)
        ).mappings().first()
    return None if row is None else _user(store, row)


def set_settings(store: CaseStore, user: User, blur_radius: int, greyscale: bool) -> User:
    """Store ``user``'s viewing settings (``blur_radius`` one of :data:`BLUR_LEVELS`) and audit
    ``user.settings_changed`` with the old and new values (nothing when unchanged); return the updated user."""
    if blur_radius not in BLUR_LEVELS or not isinstance(greyscale, bool):
        raise UserRefused(f"blur radius must be one of {', '.join(map(str, BLUR_LEVELS))}; greyscale true or false")
    with write_connection(store._engine) as conn:
        store._lock_case(conn)
        row = conn.execute(
            select(*_USER_COLUMNS).where(users.c.case_id == store.case_id, users.c.id == user.id)
        ).mappings().first()
        if row is None:
            raise UserRefused(f"user {user.name!r} is not a user of this case")
        old = _user(store, row)
        if (old.blur_radius, old.greyscale) == (blur_radius, greyscale):
            return old
        conn.execute(
            users.update().where(users.c.id == user.id).values(blur_radius=blur_radius, greyscale=greyscale)
        )
        entry = store._append(
            conn, "user.settings_changed",
            {"user_id": user.id, "name": user.name, "previous": {"blur_radius": old.blur_radius,
             "greyscale": old.greyscale}, "settings": {"blur_radius": blur_radius, "greyscale": greyscale}},
            user.name,
        )
    store._anchor(entry)
    return User(old.id, old.case_id, old.name, old.role, blur_radius, greyscale)


def _row_by_name(conn: Any, store: CaseStore, name: str) -> Any:
    row = conn.execute(
        select(users.c.id, users.c.name, users.c.password_hash, users.c.disabled)
        .where(users.c.case_id == store.case_id, users.c.name == name[:64])
    ).mappings().first()
    if row is None:
        raise UserRefused(f"no user {name[:80]!r} in this case")
    return row


def set_password(
    store: CaseStore, name: str, new_password: str, actor: str, old_password: str | None = None
) -> None:
    """Set user ``name``'s password and audit ``user.password_changed`` (who, whose; never a password).

    With ``old_password`` (a user changing their own) it must be the current one, else ``UserRefused``."""
    check_password(new_password)
    digest = _HASHER.hash(new_password)
    with write_connection(store._engine) as conn:
        store._lock_case(conn)
        row = _row_by_name(conn, store, name)
        if old_password is not None and not _verify(str(row["password_hash"]), old_password):
            raise UserRefused("the current password given is wrong")
        conn.execute(users.update().where(users.c.id == row["id"]).values(password_hash=digest))
        entry = store._append(
            conn, "user.password_changed", {"user_id": int(row["id"]), "name": str(row["name"]),
                                            "own": old_password is not None}, actor,
        )
    store._anchor(entry)


def set_disabled(store: CaseStore, name: str, disabled: bool, actor: str) -> int:
    """Disable (or enable again) user ``name``, audited ``user.disabled`` / ``user.enabled``; return its id.
    An actor cannot disable their own account (``UserRefused``)."""
    if disabled and name == actor:
        raise UserRefused("you cannot disable your own account")
    with write_connection(store._engine) as conn:
        store._lock_case(conn)
        row = _row_by_name(conn, store, name)
        user_id = int(row["id"])
        if bool(row["disabled"]) == disabled:
            return user_id
        conn.execute(users.update().where(users.c.id == user_id).values(disabled=disabled))
        entry = store._append(
            conn, "user.disabled" if disabled else "user.enabled", {"user_id": user_id, "name": str(row["name"])},
            actor,
        )
    store._anchor(entry)
    return user_id


def _verify(digest: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(digest, password))
    except (VerificationError, InvalidHashError):
        return False
