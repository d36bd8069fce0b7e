"""Print a report's HTML to PDF with Debian's headless chromium (``/usr/bin/chromium``), offline.

The browser runs with a throw-away profile, no network services (background networking, component updates and
sync off) and no header or footer; the report's own Content-Security-Policy forbids it any load.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = "install Debian's browser: `apt-get install chromium`"
#: Seconds chromium may take to print one report.
TIMEOUT = 180.0
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--no-pdf-header-footer", "--print-to-pdf-no-header",
)


class ChromiumMissing(RuntimeError):
    """No working chromium at the path (absent, or something that is not Chromium)."""


class PdfFailed(RuntimeError):
    """Chromium ran but wrote no PDF (it failed, or ran past the timeout)."""


def chromium_version(path: str | None = None) -> str | None:
    """The first line ``path --version`` (default :data:`CHROMIUM`) prints when it says it is Chromium, else None."""
    try:
        out = subprocess.run([path or CHROMIUM, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    line = out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
    return line if "Chromium" in line else None


def print_pdf(html: Path, pdf: Path, *, chromium: str | None = None, timeout: float = TIMEOUT) -> None:
    """Render ``html`` (a local file) to ``pdf``, replacing it atomically; :class:`ChromiumMissing` when there is no
    Chromium at ``chromium``, :class:`PdfFailed` when it writes no PDF within ``timeout`` seconds."""
    chromium = chromium or CHROMIUM
    if chromium_version(chromium) is None:
        raise ChromiumMissing(f"no Chromium at {chromium}: {INSTALL_HINT}")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf.with_name(f".{pdf.name}.{os.getpid()}.{secrets.token_hex(6)}.part")
    try:
        with tempfile.TemporaryDirectory(prefix="cairn-chromium-") as profile:
            args = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={tmp}", html.resolve().as_uri()]
            try:
                done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
            except subprocess.TimeoutExpired as exc:
                raise PdfFailed(f"chromium did not finish printing within {timeout:.0f} s") from exc
        try:
            with tmp.open("rb") as fh:
                head = fh.read(5)
        except OSError:
            head = b""
        if head != b"%PDF-":
            tail = (done.stderr or "").strip().splitlines()[-3:]
            raise PdfFailed(f"chromium wrote no PDF (exit {done.returncode}): {' | '.join(tail) or 'no message'}")
        tmp.replace(pdf)
    finally:
        tmp.unlink(missing_ok=True)
