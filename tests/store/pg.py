"""PostgreSQL helpers for tests, importable from any test folder (plain functions, no fixtures).

``pg_url_or_skip()`` returns the server URL (env ``CAIRN_TEST_PG_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``) or skips the test when the server is unreachable; with
``CI=true`` it fails instead, so a missing server turns CI red. ``pg_schema_url()`` yields a URL bound to a
fresh schema (``search_path``) that is dropped afterwards, so tests never collide.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def pg_base_url() -> str:
    """The configured test server URL (``CAIRN_TEST_PG_URL`` or the default)."""
    return os.environ.get("CAIRN_TEST_PG_URL") or DEFAULT_PG_URL


def libpq_url(url: str) -> str:
    """``url`` as libpq/psycopg accepts it (no SQLAlchemy ``+driver`` suffix)."""
    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


@functools.cache
def _unreachable(url: str) -> str | None:
    try:
        psycopg.connect(libpq_url(url), connect_timeout=3).close()
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def pg_url_or_skip() -> str:
    """The test server URL; skip the calling test if it is unreachable (fail instead when ``CI=true``)."""
    url = pg_base_url()
    problem = _unreachable(url)
    if problem is not None:
        shown = make_url(url).render_as_string(hide_password=True)
        msg = (
            f"PostgreSQL not reachable at {shown}: start it (pg_ctlcluster <version> main start) "
            f"or set CAIRN_TEST_PG_URL ({problem})"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return url


def with_search_path(url: str, schema: str) -> str:
    """``url`` with ``options=-csearch_path=<schema>`` so every connection works inside ``schema``."""
    u = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return u.render_as_string(hide_password=False)


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """Yield a server URL bound to a new empty schema ``t_<random>``; drop the schema (CASCADE) after."""
    base = pg_url_or_skip()
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(libpq_url(base), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(base, schema)
    finally:
        with psycopg.connect(libpq_url(base), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
