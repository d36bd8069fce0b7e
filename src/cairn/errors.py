"""Stable codes recorded against items: errors (something could not be examined) and notes (something odd
that was examined anyway). Codes are stored in the case database: never rename one.

Both kinds are ``ItemError``s in one ordered list per item; ``is_note`` tells them apart. A file's
``error`` column shows only errors, its ``notes`` column only notes.
"""

from __future__ import annotations

from cairn.model import ItemError

# -- errors: part of the item could not be examined ------------------------------------------------
UNREADABLE = "unreadable"  # the OS refused or failed a read
SYMLINK_LOOP = "symlink_loop"  # a symbolic link that resolves back into itself
PATH_TRAVERSAL = "path_traversal"  # an archive member name that points outside its archive
ARCHIVE_CORRUPT = "archive_corrupt"  # truncated or malformed archive; members before the damage are kept
ARCHIVE_BOMB = "archive_bomb"  # expansion ratio or size beyond the limits
ARCHIVE_DEPTH = "archive_depth"  # containers nested deeper than the limit; not opened
ARCHIVE_ENCRYPTED = "archive_encrypted"  # member cannot be read without a password
MEMBER_TOO_LARGE = "member_too_large"  # a single member beyond the size limit
IMAGE_CORRUPT = "image_corrupt"  # decoder failed or the file is truncated
IMAGE_BOMB = "image_bomb"  # declared pixel count or decode memory beyond the limit; not decoded
IMAGE_UNSUPPORTED = "image_unsupported"  # recognised as an image but no decoder for it
SIGNAL_FAILED = "signal_failed"  # a signal raised unexpectedly; the others still ran
TIMEOUT = "timeout"  # the item ran past its wall-clock budget; its worker was replaced
PATH_COLLISION = "path_collision"  # two items got one logical path; this one was stored under another
STORE_FAILED = "store_failed"  # the database refused this item's details; the item row was kept
CHANGED_DURING_SCAN = "changed_during_scan"  # the file's size or time changed while it was read
WORKER_CRASHED = "worker_crashed"  # the worker process died while examining this item; it was replaced
MODEL_UNREADABLE = "model_unreadable"  # a model file's header, pickle or metadata could not be read (hashed anyway)
DETECTOR_FAILED = "detector_failed"  # the configured AI-image detector could not score this picture

# -- notes: odd, recorded, and the item was still examined in full ---------------------------------
DUPLICATE_NAME = "duplicate_name"  # a second member of the same name in one archive, renamed
APPENDED_DATA = "appended_data"  # a container found after a picture's end or an executable stub
CLAIMED_MODE = "claimed_mode"  # a member's mode/type bits said directory/link/device, yet it held data
UNKNOWN_MEMBER_TYPE = "unknown_member_type"  # a tar type flag cairn does not know; read as a regular file
ODD_NAME = "odd_name"  # an empty, NUL-holding or bidi-control member name, shown escaped
IMAGE_CHUNK_SKIPPED = "image_chunk_skipped"  # an oversized metadata chunk was skipped; pixels were hashed
IMAGE_REDUCED_DECODE = "image_reduced_decode"  # decoded at reduced scale to stay in the memory budget
TIME_OUT_OF_RANGE = "time_out_of_range"  # a timestamp no calendar date can show; raw value kept
UNSHOWABLE_VALUE = "unshowable_value"  # a listing could not show a stored value as its type; shown as text
PROVENANCE_UNREADABLE = "provenance_unreadable"  # AI-provenance metadata was found but (partly) not read
WATERMARK_SKIPPED = "watermark_skipped"  # an invisible-watermark check was due but the picture cannot hold one
PICKLE_IMPORTS = "pickle_imports"  # a pickle names callables outside the tensor allowlist (never run; listed)

ERROR_CODES = frozenset(
    {
        UNREADABLE,
        SYMLINK_LOOP,
        PATH_TRAVERSAL,
        ARCHIVE_CORRUPT,
        ARCHIVE_BOMB,
        ARCHIVE_DEPTH,
        ARCHIVE_ENCRYPTED,
        MEMBER_TOO_LARGE,
        IMAGE_CORRUPT,
        IMAGE_BOMB,
        IMAGE_UNSUPPORTED,
        SIGNAL_FAILED,
        TIMEOUT,
        PATH_COLLISION,
        STORE_FAILED,
        CHANGED_DURING_SCAN,
        WORKER_CRASHED,
        MODEL_UNREADABLE,
        DETECTOR_FAILED,
    }
)

NOTE_CODES = frozenset(
    {
        DUPLICATE_NAME,
        APPENDED_DATA,
        CLAIMED_MODE,
        UNKNOWN_MEMBER_TYPE,
        ODD_NAME,
        IMAGE_CHUNK_SKIPPED,
        IMAGE_REDUCED_DECODE,
        TIME_OUT_OF_RANGE,
        UNSHOWABLE_VALUE,
        PROVENANCE_UNREADABLE,
        WATERMARK_SKIPPED,
        PICKLE_IMPORTS,
    }
)

ALL_CODES = ERROR_CODES | NOTE_CODES


def is_note(code: str) -> bool:
    """True for a note (the item was examined in full), False for an error."""
    return code in NOTE_CODES


def item_error(code: str, message: str) -> ItemError:
    """Build an ``ItemError``, refusing codes that are not declared here."""
    if code not in ALL_CODES:
        raise ValueError(f"undeclared error code {code!r}; add it to cairn.errors")
    return ItemError(code, message)


def item_note(code: str, message: str) -> ItemError:
    """Build a note (an ``ItemError`` whose code is in ``NOTE_CODES``); refuses error codes."""
    if code not in NOTE_CODES:
        raise ValueError(f"{code!r} is not a note code; use item_error or add it to NOTE_CODES")
    return ItemError(code, message)
