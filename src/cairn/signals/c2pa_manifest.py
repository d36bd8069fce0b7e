"""C2PA Content Credentials of a picture: one ``c2pa`` finding per file that carries a manifest store.

A file without one costs a walk of its JPEG segments or PNG chunk headers (or one byte search in other
containers) and stores nothing. A file with one is read from the bytes the scan already holds, offline, by
``c2pa-python`` (see :mod:`cairn.signals.provenance.c2pa_read` for the record and the trust anchors). Where the
library is not installed the finding says the store was found but not checked, with the install hint. A store
the library cannot read (truncated, garbage, hostile) gives a ``provenance_warning`` finding and a
``provenance_unreadable`` note instead, never an exception out of the signal. A file whose XMP only names a
store (``dcterms:provenance``: remote, or ``self#jumbf`` since stripped) gets a ``c2pa`` finding with
``checked: False`` and the reference: cairn never fetches it.
"""

from __future__ import annotations

from cairn import errors
from cairn.model import FileResult, Finding
from cairn.settings import ScanSettings
from cairn.signals.base import DecodedImage
from cairn.signals.provenance import c2pa_read

#: The finding kinds this signal stores.
KIND = "c2pa"
WARNING_KIND = "provenance_warning"


class C2paSignal:
    """Stores kind ``c2pa`` (data: :func:`cairn.signals.provenance.c2pa_read.summarize`'s record, or
    ``checked: False`` with the reason) and, for a store that cannot be read, kind ``provenance_warning``
    (data: ``carrier`` = "c2pa", ``error`` = the exception's type, ``message``)."""

    name = "c2pa"
    order = 60

    def apply(self, decoded: DecodedImage, result: FileResult, settings: ScanSettings) -> None:
        location = c2pa_read.locate_manifest(decoded.data)
        if location is None:
            return
        if location.remote_url is not None:
            data = c2pa_read.remote_not_fetched(location.remote_url)
            result.findings.append(Finding(self.name, KIND, data, location.where))
            return
        if c2pa_read.c2pa_module() is None:
            data = c2pa_read.not_checked("c2pa-python is not installed: C2PA was not checked")
            result.findings.append(Finding(self.name, KIND, data, location.where))
            return
        mime = location.mime or result.mime
        try:
            record = c2pa_read.read_manifest(decoded.data, mime)
        except Exception as exc:  # the library's C2paError and anything a hostile store provokes
            self._warn(result, location.where, type(exc).__name__.lstrip("_"), str(exc)[:1024])
            return
        if record is None:  # the bytes looked like a store, the library found none
            message = "a C2PA manifest store signature was found but the library read no manifest from it"
            self._warn(result, location.where, "ManifestNotFound", message)
            return
        result.findings.append(Finding(self.name, KIND, record, location.where))

    def _warn(self, result: FileResult, where: str, error: str, message: str) -> None:
        """A ``provenance_warning`` finding and the file's ``provenance_unreadable`` note."""
        data = {"carrier": "c2pa", "error": error, "message": message, "library": c2pa_read.library_version()}
        result.findings.append(Finding(self.name, WARNING_KIND, data, where))
        result.errors.append(
            errors.item_note(
                errors.PROVENANCE_UNREADABLE,
                f"C2PA manifest store ({where}) could not be read: {error}: {message}; see the file's provenance "
                "warnings",
            )
        )


SIGNALS = [C2paSignal()]
