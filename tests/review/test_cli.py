"""``cairn user add`` / ``cairn user list``: the password from stdin, refusals, the audit entry."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.store import CaseStore
from cairn.store.users import authenticate
from tests.conftest import ScannedDemo

runner = CliRunner()


def test_user_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    case = tmp_path / "case"
    CaseStore.open(case).close()
    result = runner.invoke(
        app, ["user", "add", "ana", "--role", "investigator", "--case", str(case), "--actor", "lead"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "added user 'ana' (investigator)" in result.output
    with CaseStore.open(case) as store:
        user = authenticate(store, "ana", "a long enough password")
        assert user is not None and user.role == "investigator"
        last = store.audit_entries()[-1]
        assert (last["action"], last["actor"], last["details"]["name"]) == ("user.added", "lead", "ana")
        assert store.audit_verify() == []
    listed = runner.invoke(app, ["user", "list", "--case", str(case)])
    assert listed.exit_code == 0 and "ana" in listed.output and "investigator" in listed.output
    assert "password" not in listed.output.lower()


def test_user_add_refusals(tmp_path: Path) -> None:
    case = tmp_path / "case"
    missing = runner.invoke(app, ["user", "add", "ana", "--role", "admin", "--case", str(case)], input="x" * 12)
    assert missing.exit_code == 2 and "No case at" in missing.output
    assert not case.exists()  # never creates a case
    CaseStore.open(case).close()
    short = runner.invoke(app, ["user", "add", "ana", "--role", "admin", "--case", str(case)], input="short\n")
    assert short.exit_code == 2 and "10 to 1024 characters" in short.output
    bad_role = runner.invoke(app, ["user", "add", "ana", "--role", "root", "--case", str(case)], input="x" * 12)
    assert bad_role.exit_code == 2
    with CaseStore.open(case) as store:
        assert [e["action"] for e in store.audit_entries()] == ["case.created"]


def test_serve_refuses_a_case_without_users(tmp_path: Path) -> None:
    case = tmp_path / "case"
    missing = runner.invoke(app, ["serve", "--case", str(case)])
    assert missing.exit_code == 2 and "No case at" in missing.output and not case.exists()
    CaseStore.open(case).close()
    result = runner.invoke(app, ["serve", "--case", str(case), "--port", "1"])
    assert result.exit_code == 2
    assert "no users" in result.output and f"cairn user add NAME --role reviewer --case {case}" in result.output


def test_serve_serves_the_case(scanned_demo: ScannedDemo, tmp_path: Path) -> None:
    case = tmp_path / "case"
    shutil.copytree(scanned_demo.case_dir, case)
    added = runner.invoke(app, ["user", "add", "rita", "--role", "reviewer", "--case", str(case)],
                          input="a long enough password\n")
    assert added.exit_code == 0, added.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from cairn.cli.main import app; app()", "serve", "--case", str(case), "--port",
         str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                login = httpx.get(base + "/login", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "cairn serve did not start"
                time.sleep(0.2)
        assert login.status_code == 200 and "Log in" in login.text
        assert httpx.get(base + "/grid").status_code == 303
        assert httpx.get(base + "/media/1/thumb").status_code == 401
        assert httpx.get(base + "/login", headers={"Host": "attacker.example"}).status_code == 400  # rebinding
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "http://127.0.0.1:" in out
