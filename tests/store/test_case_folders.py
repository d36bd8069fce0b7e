"""A case in a shared database belongs to the folder it was made in; a second folder cannot claim it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.store import CaseFolderMismatch, CaseStore
from cairn.store.audit import ANCHOR_FILE
from tests.store.pg import pg_schema_url


@pytest.mark.postgres
def test_second_folder_with_the_same_name_is_refused_own_folder_reopens(tmp_path: Path) -> None:
    with pg_schema_url() as db_url:  # only a shared database can be reached from two folders
        first = tmp_path / "one" / "case"
        with CaseStore.open(first, db_url):
            pass
        with pytest.raises(CaseFolderMismatch, match="made in"):
            CaseStore.open(tmp_path / "two" / "case", db_url)
        (first / ANCHOR_FILE).unlink()  # an anchor write cut short: the case's own folder still opens
        with CaseStore.open(first, db_url) as store:
            assert store.case_name == "case"
