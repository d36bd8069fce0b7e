"""Registry of container formats and the engine that expands containers into member items.

A container format (zip, tar, later a disk image) is one module that builds a ``ContainerFormat`` and
calls ``register``: a name, the signatures (magic bytes at offsets) that identify it in the first
``HEAD_SIZE`` bytes, an optional ``confirm`` for formats whose magic alone is not enough (a gzip file is a
container only when its content is a tar), and a ``members`` generator of ``RawMember``. The engine
(``expand``) does everything else the same way for every format: depth limit, member-name sanitising,
duplicate names, size/ratio/count limits enforced while reading, in-memory vs spooled content, skip, and
recursion into nested containers.

Rules (documented contract):

* A container at locator depth ``d`` is opened only when ``d < limits.max_archive_depth`` (so the limit
  is the number of container levels opened; 0 opens none). A deeper one is yielded as a plain file with
  ``ARCHIVE_DEPTH`` and ``is_container=False``; it is still hashed as a file.
* A container is read in one pass (a compressed tar is decompressed once): its members are yielded as
  they are found, and the container's own item comes after them, carrying what the pass found (damage,
  too many members, a too-large total). Members before the damage or the limit are kept. Its content
  (data or spool file) stays valid until the consumer has processed that last item.
* Member names are normalised to POSIX ("./" and empty components dropped) and each component is
  escaped exactly once with ``cairn.model.storable_name`` (``%`` -> ``%25``, controls, NUL, bytes that
  are not UTF-8 and bidi controls -> ``%XX``/``%uXXXX``), so two different raw components never share a
  label. Names that could point outside the archive (a ``..`` component, a leading ``/``, a drive
  letter, a backslash) get ``PATH_TRAVERSAL`` and a sanitised name: ``..`` -> ``%2E%2E``, each leading
  ``/`` -> ``%2F``, the drive colon -> ``%3A``, ``\\`` -> ``%5C`` (a literal ``%2E%2E`` is shown as
  ``%252E%252E``, so the two never meet). ``!`` at the end of a component becomes ``%21`` so a name
  cannot fake the container separator ``!/``. A name that is empty after normalising is shown as
  ``%(empty)``. Nothing is ever extracted, so the sanitised name is only a label; the raw name is quoted
  in the error message.
* A second member with the same (sanitised) name in one archive is listed as ``name%#2`` (``%#3`` ...,
  before the last extension: ``a%#2.jpg``) with a ``DUPLICATE_NAME`` note, so both are kept; the order of
  the archive decides which is which. No escaped name holds ``%#``, so the label cannot meet a member
  literally named so, and naming takes constant time per member. A member whose raw name is empty or
  holds NUL or a bidi control gets an ``ODD_NAME`` note and is examined like any other.
* Members up to ``limits.in_memory_member_size`` are returned as ``data``; larger ones are copied in
  chunks to a ``NamedTemporaryFile`` in ``temp_dir`` (``tempfile.gettempdir()`` when None) and returned as
  ``spool_path``: the consumer owns that file and must delete it after processing. Spool files of
  skipped members (read only to look inside them) are deleted here.
* A picture or an executable (MZ, ELF) whose head matches no container is asked, through each format's
  ``locate`` hook (a bounded read of the tail), whether a container starts after it (a zip appended to a
  JPEG, a self-extractor's stub). If so the container is opened over the rest of the file, its members
  are listed inside the file (``pic.jpg!/member``) and the file gets an ``APPENDED_DATA`` note; the file
  itself is still hashed and decoded as what its head says.
* One ``ExpansionBudget`` per top-level file (``max(BOMB_FLOOR, size * max_archive_ratio)``, at most
  ``max_archive_total``) travels down the container chain and every member byte read at every level is
  spent from it. The member whose read spends the last of it gets ``ARCHIVE_BOMB`` and every container
  above it stops listing, with ``ARCHIVE_BOMB`` on its own item.
* A member already stored (``skip``) is still read to its end, its content kept only when its head looks
  like a container: budget, limits and errors come out exactly as in a clean scan, so a resumed scan
  stores the same members with the same errors however often it was interrupted.
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, replace
from typing import IO, Any, Protocol, cast

from cairn import errors as E
from cairn.model import EMPTY_NAME, EvidenceItem, ItemError, ItemMeta, Locator, is_odd_name, storable_name
from cairn.settings import Limits
from cairn.signals import filetype
from cairn.sources.base import OutOfSpace, SkipFn

#: Bytes read from the start of a file to recognise a container.
HEAD_SIZE = 512
#: Expansion below this many bytes is never called a bomb, whatever the ratio.
BOMB_FLOOR = 1024 * 1024
_CHUNK = 1024 * 1024


class ContainerLimitExceeded(Exception):
    """Raised by a format's reader when the archive as a whole breaks a limit (recorded as ARCHIVE_BOMB).

    ``listed_all``: the format found the breach only after listing every entry (nothing was left unread).
    """

    def __init__(self, message: str, *, listed_all: bool = False) -> None:
        super().__init__(message)
        self.listed_all = listed_all


class ContainerDamaged(Exception):
    """Raised by a format's ``members`` generator when the archive structure is damaged."""


class ContainerDamageSkipped(ContainerDamaged):
    """Raised by a ``members`` generator after its last entry when it skipped damaged parts and read on.

    Recorded as ``ARCHIVE_CORRUPT`` on the container with the message as it is (it says what was
    skipped); every entry the generator found was listed.
    """


@dataclass(frozen=True)
class Signature:
    """Magic bytes expected at ``offset`` in the head of a file."""

    offset: int
    magic: bytes

    def matches(self, head: bytes) -> bool:
        """True when ``head`` holds ``magic`` at ``offset``."""
        return head[self.offset : self.offset + len(self.magic)] == self.magic


class MemberStream(Protocol):
    """What ``RawMember.open`` returns: a read-only byte stream."""

    def read(self, n: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RawMember:
    """One entry as a format reports it, before the engine names, limits and reads it.

    ``open`` returns a fresh read-only stream of the member's bytes (None: no content, e.g. links,
    devices, encrypted members); the engine reads it fully before asking the generator for the next
    entry. ``compressed`` returns the compressed bytes the member took so far (None: not compressed or
    unknown), used for the ratio limit.
    """

    name: str
    meta: ItemMeta
    is_dir: bool = False
    open: Callable[[], MemberStream] | None = None
    compressed: Callable[[], int] | None = None
    errors: tuple[ItemError, ...] = ()


MembersFn = Callable[[IO[bytes], Limits], Generator[RawMember, None, None]]
ConfirmFn = Callable[[IO[bytes]], bool]
LocateFn = Callable[[IO[bytes]], "int | None"]


@dataclass(frozen=True)
class ContainerFormat:
    """A registered container format. ``members`` gets a seekable stream positioned at 0."""

    name: str
    signatures: tuple[Signature, ...]
    members: MembersFn
    confirm: ConfirmFn | None = None
    #: Where a container of this format that follows other data (a picture, an executable stub) starts,
    #: found cheaply from the end of the stream (read only a bounded tail), or None.
    locate: LocateFn | None = None


_REGISTRY: dict[str, ContainerFormat] = {}
_BUILTINS_LOADED = False


def register(fmt: ContainerFormat) -> None:
    """Add a container format; a name already registered is refused with ValueError."""
    if fmt.name in _REGISTRY:
        raise ValueError(f"container format {fmt.name!r} is already registered")
    if not fmt.signatures:
        raise ValueError(f"container format {fmt.name!r} declares no signature")
    _REGISTRY[fmt.name] = fmt


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from cairn.sources import tar_container, zip_container  # noqa: F401  (register on import)


def formats() -> tuple[ContainerFormat, ...]:
    """All registered formats, in registration order (the built-ins first)."""
    _load_builtins()
    return tuple(_REGISTRY.values())


def sniff(head: bytes) -> bool:
    """True when some registered signature matches ``head`` (cheap; ``detect`` also confirms)."""
    return any(sig.matches(head) for fmt in formats() for sig in fmt.signatures)


def detect(stream: IO[bytes]) -> ContainerFormat | None:
    """The first registered format that recognises ``stream`` (read from position 0), or None.

    Reads at most ``HEAD_SIZE`` bytes, plus what a format's ``confirm`` needs; never writes. I/O errors
    propagate.
    """
    stream.seek(0)
    head = stream.read(HEAD_SIZE)
    for fmt in formats():
        if any(sig.matches(head) for sig in fmt.signatures):
            if fmt.confirm is not None:
                stream.seek(0)
                try:
                    ok = fmt.confirm(stream)
                except Exception:
                    ok = False
                if not ok:
                    continue
            return fmt
    return None


def carries_appended(head: bytes) -> bool:
    """True when a container may follow the data of content starting with ``head``: anything that is not
    empty and not itself a container (a picture, an executable stub, a document, a text file: ``unzip``
    finds a zip appended to any of them, so cairn looks behind every one; a bounded tail read each)."""
    return bool(head) and not sniff(head)


def find_appended(stream: IO[bytes]) -> tuple[ContainerFormat, int] | None:
    """A registered container that starts after the data at the head of ``stream`` (a picture with a zip
    appended, an executable stub before a zip), as (format, offset); None when there is none.

    Only formats with a ``locate`` hook are asked; each reads a bounded tail. Errors mean "none".
    """
    for fmt in formats():
        if fmt.locate is None:
            continue
        try:
            offset = fmt.locate(stream)
        except Exception:
            offset = None
        if offset is not None and offset >= 0:
            return fmt, offset
    return None


class _Tail(io.RawIOBase):
    """A read-only view of ``stream`` from ``start`` to its end, positioned at 0 (an appended container)."""

    def __init__(self, stream: IO[bytes], start: int) -> None:
        super().__init__()
        self._stream = stream
        self._start = start
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            self._stream.seek(0, 2)
            offset += self._stream.tell() - self._start
        self._pos = max(offset, 0)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        self._stream.seek(self._start + self._pos)
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


# ------------------------------------------------------------------------------------------ names


def _quote_raw(name: str) -> str:
    return repr(name if len(name) <= 200 else name[:200] + "...")


def sanitise_member_name(raw: str) -> tuple[str, bool]:
    """Normalise an archive member name to an escaped POSIX label; the bool is True when it was hostile.

    See the module docstring for the rule. Each component is escaped once with
    ``cairn.model.storable_name`` (so a literal ``%2E%2E`` becomes ``%252E%252E`` and can never meet the
    label of ``..``); the result never starts with ``/`` and never contains a ``..`` component, a
    backslash or ``!/``. An entry whose name is empty after normalising is called ``%(empty)``.
    """
    hostile = False
    drive = len(raw) >= 2 and raw[1] == ":" and raw[0].isascii() and raw[0].isalpha()
    lead = len(raw) - len(raw.lstrip("/"))
    parts: list[str] = []
    for comp in raw[lead:].split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            hostile = True
            parts.append("%2E%2E")
            continue
        label = storable_name(comp)
        if "\\" in label:
            hostile = True
            label = label.replace("\\", "%5C")
        parts.append(label)
    if drive and parts and not lead:
        hostile = True
        parts[0] = parts[0][0] + "%3A" + parts[0][2:]
    if lead:
        hostile = True
        if parts:
            parts[0] = "%2F" * lead + parts[0]
        else:
            parts.append("%2F" * lead)
    for i in range(len(parts) - 1):
        if parts[i].endswith("!"):
            parts[i] = parts[i][:-1] + "%21"
    return ("/".join(parts) or EMPTY_NAME), hostile


#: Marks a renamed duplicate: ``a%#2.jpg``. After ``%`` an escaped name only ever has ``u`` or hex digits,
#: so no member can literally be called this.
DUPLICATE_MARK = "%#"


def duplicate_label(name: str, n: int) -> str:
    """The label of the ``n``-th member named ``name`` (n >= 2): ``%#n`` before the last extension."""
    head, slash, last = name.rpartition("/")
    stem, dot, ext = last.rpartition(".")
    last = f"{stem}{DUPLICATE_MARK}{n}.{ext}" if dot and stem else f"{last}{DUPLICATE_MARK}{n}"
    return f"{head}{slash}{last}"


def _unique(name: str, seen: dict[str, int]) -> tuple[str, int]:
    """``name`` itself for its first member, else its duplicate label; constant time per member."""
    n = seen.get(name, 0) + 1
    seen[name] = n
    return (name, n) if n == 1 else (duplicate_label(name, n), n)


def _name_notes(raw: str, label: str, n: int) -> list[ItemError]:
    notes = []
    if is_odd_name(raw):
        what = "is empty" if not raw else "holds NUL" if "\x00" in raw else "holds bidi controls"
        notes.append(
            E.item_note(
                E.ODD_NAME,
                f"member name {_quote_raw(raw)} {what}; it is listed escaped as {label!r} so it cannot hide or "
                "disguise itself. Its content was examined.",
            )
        )
    if n > 1:
        notes.append(
            E.item_note(
                E.DUPLICATE_NAME,
                f"member {n} of this archive named {_quote_raw(raw)}; it is listed as {label!r} so every one "
                "is kept. The order of the archive decides which is which.",
            )
        )
    return notes


# ------------------------------------------------------------------------------------- budget


class ExpansionBudget:
    """Bytes the members of one top-level file may expand to, summed over every level of nesting.

    Made once per file of the evidence (``expand`` at depth 0) and handed down the container chain: every
    member byte read at any level is spent from it, so a zip inside a zip inside a zip cannot multiply
    its ratio level by level. The budget is ``max(BOMB_FLOOR, size * max_archive_ratio)``, at most
    ``max_archive_total``. Spending is the same whether or not a member is already stored (a resumed
    scan reads skipped members too), so a budget trips on the same member however often a scan resumed.
    """

    def __init__(self, outer: Locator, outer_size: int, limits: Limits) -> None:
        self.outer = outer
        self.outer_size = outer_size
        self.total = min(max(BOMB_FLOOR, int(outer_size * limits.max_archive_ratio)), limits.max_archive_total)
        self.used = 0

    @property
    def exhausted(self) -> bool:
        return self.used > self.total

    def spend(self, n: int) -> None:
        self.used += n

    def error(self, read: int) -> ItemError:
        """ARCHIVE_BOMB for the member whose reading spent the last of the budget."""
        return E.item_error(
            E.ARCHIVE_BOMB,
            f"{self.outer.path!r} ({self.outer_size} bytes) may expand to {self.total} bytes across all its "
            f"nested archives (max_archive_ratio times its size, at most max_archive_total); that budget was "
            f"spent while reading this member (after {read} bytes of it). It and every member after it were "
            "not examined. Raise Limits.max_archive_ratio or max_archive_total if the evidence is genuine.",
        )

    def stopped(self) -> ItemError:
        """ARCHIVE_BOMB for a container whose listing the spent budget cut short."""
        return E.item_error(
            E.ARCHIVE_BOMB,
            f"the expansion budget of {self.outer.path!r} ({self.total} bytes across all nested archives) "
            "was spent inside this archive; the members after that point were not examined. Raise "
            "Limits.max_archive_ratio or max_archive_total if the evidence is genuine.",
        )


# ------------------------------------------------------------------------------------- reading


@dataclass
class _Read:
    """Outcome of reading one member: content (data or an open spool file) or an error."""

    data: bytes | None = None
    spool: IO[bytes] | None = None
    spool_path: str | None = None
    size: int = 0
    error: ItemError | None = None
    stop_container: bool = False
    not_container: bool = False  # probe mode: the head matched no signature; read, counted, not kept


def _discard(spool: IO[bytes] | None, path: str | None) -> None:
    if spool is not None:
        spool.close()
    if path is not None:
        with suppress(OSError):
            os.unlink(path)


def might_hold_container(head: bytes) -> bool:
    """True when content starting with ``head`` is, or may carry, a container (read it in full).

    That is any content that is not empty: a head that matches no container may still carry one appended
    (``carries_appended``), so ``sniff(head) or carries_appended(head)`` reduces to ``bool(head)``.
    """
    return bool(head)


@contextmanager
def _spooling(temp_dir: str | None) -> Iterator[None]:
    """Turn a full temp disk (ENOSPC, EDQUOT) while spooling into ``OutOfSpace``; other errors pass."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            where = temp_dir or tempfile.gettempdir()
            raise OutOfSpace(
                exc.errno,
                f"the temp folder {where} is full ({exc.strerror}); the scan stopped and stored nothing for "
                "the member being read. Free space or pass --temp-dir on a larger disk, then run the same "
                "scan again to resume.",
            ) from exc
        raise


def _keep(res: _Read, buf: bytearray, chunk: bytes, limits: Limits, temp_dir: str | None) -> bytearray:
    """Add ``chunk`` to the member's content: in memory, or spooled once it outgrows the memory limit."""
    with _spooling(temp_dir):
        if res.spool is None and len(buf) + len(chunk) > limits.in_memory_member_size:
            tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115  (owned by the consumer)
                prefix="cairn-spool-", dir=temp_dir, delete=False
            )
            res.spool, res.spool_path = tmp, tmp.name
            tmp.write(buf)
            buf = bytearray()
        if res.spool is not None:
            res.spool.write(chunk)
        else:
            buf += chunk
    return buf


def _read_member(
    m: RawMember,
    limits: Limits,
    temp_dir: str | None,
    budget: ExpansionBudget,
    probe: bool,
) -> _Read:
    """Read member content within the limits, spending every byte read from ``budget``.

    With ``probe`` (the member is already stored) the content is kept only when its head looks like a
    container; otherwise it is read to the end and dropped, so the budget, limits and errors come out
    exactly as in a scan that examined it (a resumed scan must equal a clean one)."""
    assert m.open is not None
    res = _Read()
    buf = bytearray()
    n = 0
    try:
        with closing(m.open()) as f:
            chunk = f.read(HEAD_SIZE)
            keep = not probe or might_hold_container(chunk)
            res.not_container = not keep
            while chunk:
                n += len(chunk)
                budget.spend(len(chunk))
                if n > limits.max_member_size:
                    res.error = E.item_error(
                        E.MEMBER_TOO_LARGE,
                        f"member expands beyond max_member_size ({limits.max_member_size} bytes); reading "
                        f"stopped after {n} bytes and its content was not examined. Raise "
                        "Limits.max_member_size to examine it.",
                    )
                    break
                if n > BOMB_FLOOR and m.compressed is not None:
                    comp = max(m.compressed(), 1)
                    if n / comp > limits.max_archive_ratio:
                        res.error = E.item_error(
                            E.ARCHIVE_BOMB,
                            f"member expands more than {limits.max_archive_ratio:g} times its compressed "
                            f"size ({n} bytes from {comp}); reading stopped, its content was not examined. "
                            "Raise Limits.max_archive_ratio if it is genuine.",
                        )
                        break
                if budget.exhausted:
                    res.error = budget.error(n)
                    res.stop_container = True
                    break
                if keep:
                    buf = _keep(res, buf, chunk, limits, temp_dir)
                chunk = f.read(_CHUNK)
    except OutOfSpace:
        _discard(res.spool, res.spool_path)
        raise
    except ContainerLimitExceeded as exc:
        res.error = E.item_error(
            E.ARCHIVE_BOMB,
            f"{exc}; this member and the members after it were not examined.",
        )
        res.stop_container = True
    except NotImplementedError as exc:
        res.error = E.item_error(
            E.UNREADABLE,
            f"member cannot be decoded ({exc}); its bytes were not examined. Extract it with a tool that "
            "supports the method and scan the result.",
        )
    except RuntimeError as exc:
        res.error = E.item_error(E.ARCHIVE_ENCRYPTED, f"member cannot be read without a password ({exc}).")
    except Exception as exc:
        res.error = E.item_error(
            E.ARCHIVE_CORRUPT,
            f"member data is damaged or cut off ({type(exc).__name__}: {exc}); its content was not "
            "examined. Try a repair tool on a copy of the archive.",
        )
    if res.error is not None:
        _discard(res.spool, res.spool_path)
        res.spool = res.spool_path = None
        return res
    res.size = n
    if res.not_container:
        return res
    if res.spool is not None:
        try:
            with _spooling(temp_dir):
                res.spool.flush()  # buffered writes may meet the full disk only here
        except OutOfSpace:
            _discard(res.spool, res.spool_path)
            raise
        res.spool.seek(0)
    else:
        res.data = bytes(buf)
    return res


# ------------------------------------------------------------------------------------- engine


def _item(locator: Locator, meta: ItemMeta, errors: tuple[ItemError, ...]) -> EvidenceItem:
    return EvidenceItem(locator=locator, meta=meta, errors=errors)


def expand(
    locator: Locator,
    meta: ItemMeta,
    stream: IO[bytes] | None,
    limits: Limits,
    skip: SkipFn | None,
    temp_dir: str | None,
    *,
    os_path: str | None = None,
    data: bytes | None = None,
    spool_path: str | None = None,
    errors: tuple[ItemError, ...] = (),
    budget: ExpansionBudget | None = None,
) -> Iterator[EvidenceItem]:
    """Yield the item for one piece of content and, when it is a container, its members (recursively).

    ``stream`` is a seekable read-only view of the content (None: no content to look into). The item
    itself is not yielded when ``skip(locator.path)`` is true, but a container is still opened. ``budget``
    is the expansion budget of the top-level file this content came from; None (a top-level file) makes
    one from ``meta.size``. Never raises for bad content; problems are recorded on the items.
    """
    skipped = skip is not None and skip(locator.path)
    fmt: ContainerFormat | None = None
    if stream is not None:
        try:
            fmt = detect(stream)
        except OSError as exc:
            errors = (
                *errors,
                E.item_error(E.UNREADABLE, f"could not read the first bytes ({exc}); check the media."),
            )

    def make(errs: tuple[ItemError, ...], is_container: bool = False) -> EvidenceItem:
        return EvidenceItem(
            locator=locator,
            meta=meta,
            os_path=os_path,
            data=data,
            spool_path=spool_path,
            errors=errs,
            is_container=is_container,
        )

    view = stream
    if fmt is None and stream is not None:
        appended = _appended(stream)
        if appended is not None:
            fmt, offset, note = appended
            errors = (*errors, note)
            view = cast(IO[bytes], _Tail(stream, offset)) if offset else stream
    if fmt is None or view is None:
        if not skipped:
            yield make(errors)
        return
    if locator.depth >= limits.max_archive_depth:
        if not skipped:
            err = E.item_error(
                E.ARCHIVE_DEPTH,
                f"{fmt.name} container nested deeper than max_archive_depth ({limits.max_archive_depth}); "
                "it was hashed as a file but not opened. Raise Limits.max_archive_depth to look inside.",
            )
            yield make((*errors, err))
        return
    if budget is None:
        budget = ExpansionBudget(locator, meta.size or 0, limits)
    found: list[ItemError] = []
    try:
        yield from _members(locator, fmt, view, limits, skip, temp_dir, found, budget)
    finally:
        if view is not stream:
            view.close()  # the view only; the content stream belongs to the caller
    if not skipped:
        yield make((*errors, *found), is_container=True)


def _appended(stream: IO[bytes]) -> tuple[ContainerFormat, int, ItemError] | None:
    """An appended container in ``stream`` (whose head matched no container), with its APPENDED_DATA note."""
    try:
        stream.seek(0)
        head = stream.read(HEAD_SIZE)
        if not carries_appended(head):
            return None
        found = find_appended(stream)
    except OSError:
        return None
    if found is None:
        return None
    fmt, offset = found
    label = filetype.sniff(head).label
    note = E.item_note(
        E.APPENDED_DATA,
        f"a {fmt.name} archive follows the {label} data (from byte {offset}); it was opened and its members "
        f"are listed inside this file. The file itself was examined as {label} too.",
    )
    return fmt, offset, note


def _members(
    parent: Locator,
    fmt: ContainerFormat,
    stream: IO[bytes],
    limits: Limits,
    skip: SkipFn | None,
    temp_dir: str | None,
    found: list[ItemError],
    budget: ExpansionBudget,
) -> Iterator[EvidenceItem]:
    """Yield the members of one container; problems of the container itself are appended to ``found``.

    Stops (with ARCHIVE_BOMB in ``found``) as soon as the top-level file's expansion budget is spent,
    here or in a container nested inside this one."""
    seen: dict[str, int] = {}
    declared_total = 0
    count = 0
    stream.seek(0)
    gen = fmt.members(stream, limits)
    try:
        while True:
            try:
                m = next(gen)
            except StopIteration:
                break
            except ContainerDamageSkipped as exc:
                found.append(E.item_error(E.ARCHIVE_CORRUPT, str(exc)))
                break
            except ContainerLimitExceeded as exc:
                tail = "every entry was listed" if exc.listed_all else "the members after that point were not examined"
                found.append(E.item_error(E.ARCHIVE_BOMB, f"{exc}; {tail}."))
                break
            except Exception as exc:
                found.append(
                    E.item_error(
                        E.ARCHIVE_CORRUPT,
                        f"{fmt.name} archive is damaged after {count} entries ({type(exc).__name__}: {exc}); "
                        "the entries before the damage were examined, the rest could not be read. Try a "
                        "repair tool on a copy of the file.",
                    )
                )
                break
            if count >= limits.max_archive_members:
                found.append(
                    E.item_error(
                        E.ARCHIVE_BOMB,
                        f"archive holds more than max_archive_members ({limits.max_archive_members}) "
                        "entries; only the first ones were examined. Raise Limits.max_archive_members if "
                        "it is genuine.",
                    )
                )
                break
            count += 1
            if not m.is_dir and m.meta.size:
                declared_total += m.meta.size
            if declared_total > limits.max_archive_total:
                found.append(
                    E.item_error(
                        E.ARCHIVE_BOMB,
                        f"archive declares more than max_archive_total ({limits.max_archive_total} bytes) "
                        f"of content; members from {_quote_raw(m.name)} on were not examined. Raise "
                        "Limits.max_archive_total if it is genuine.",
                    )
                )
                break
            if m.is_dir:
                continue
            name, hostile = sanitise_member_name(m.name)
            label, nth = _unique(name, seen)
            loc = parent.child_escaped(label)
            errs = [*m.errors, *_name_notes(m.name, label, nth)]
            if hostile:
                errs.append(
                    E.item_error(
                        E.PATH_TRAVERSAL,
                        f"member name {_quote_raw(m.name)} points outside its archive; it is listed as "
                        f"{name!r}. Nothing was extracted; its content was examined as evidence.",
                    )
                )
            skipped = skip is not None and skip(loc.path)
            if m.meta.kind != "file" or m.open is None:
                if not skipped:
                    yield _item(loc, m.meta, tuple(errs))
                continue
            # Declared sizes can lie either way: limits are enforced while reading (_read_member).
            res = _read_member(m, limits, temp_dir, budget, probe=skipped)
            if res.error is not None:
                if not skipped:
                    yield _item(loc, m.meta, (*errs, res.error))
                if budget.exhausted:
                    found.append(budget.stopped())
                    break
                if res.stop_container:
                    break
                continue
            if res.not_container:
                continue
            meta = replace(m.meta, size=res.size)
            sub: IO[bytes] = res.spool if res.spool is not None else io.BytesIO(res.data or b"")
            try:
                yield from expand(
                    loc,
                    meta,
                    sub,
                    limits,
                    skip,
                    temp_dir,
                    data=res.data,
                    spool_path=res.spool_path,
                    errors=tuple(errs),
                    budget=budget,
                )
            finally:
                sub.close()
                if skipped and res.spool_path is not None:
                    _discard(None, res.spool_path)
            if budget.exhausted:
                found.append(budget.stopped())
                break
    finally:
        gen.close()
