"""Stable error codes recorded against items. Codes are stored in the case database: never rename one."""

from __future__ import annotations

from cairn.model import ItemError

UNREADABLE = "unreadable"  # the OS refused or failed a read
SYMLINK_LOOP = "symlink_loop"  # a symbolic link that resolves back into itself
PATH_TRAVERSAL = "path_traversal"  # an archive member name that points outside its archive
ARCHIVE_CORRUPT = "archive_corrupt"  # truncated or malformed archive; members before the damage are kept
ARCHIVE_BOMB = "archive_bomb"  # expansion ratio or size beyond the limits
ARCHIVE_DEPTH = "archive_depth"  # containers nested deeper than the limit; not opened
ARCHIVE_ENCRYPTED = "archive_encrypted"  # member cannot be read without a password
MEMBER_TOO_LARGE = "member_too_large"  # a single member beyond the size limit
IMAGE_CORRUPT = "image_corrupt"  # decoder failed or the file is truncated
IMAGE_BOMB = "image_bomb"  # declared pixel count beyond the limit; not decoded
IMAGE_UNSUPPORTED = "image_unsupported"  # recognised as an image but no decoder for it
SIGNAL_FAILED = "signal_failed"  # a signal raised unexpectedly; the others still ran

ALL_CODES = frozenset(
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
    }
)


def item_error(code: str, message: str) -> ItemError:
    """Build an ``ItemError``, refusing codes that are not declared here."""
    if code not in ALL_CODES:
        raise ValueError(f"undeclared error code {code!r}; add it to cairn.errors")
    return ItemError(code, message)
