"""Zero-copy numpy views of a decoded Pillow image's pixels, through the Arrow C data interface.

``np.asarray(image)`` copies every pixel twice (Pillow encodes the rows in chunks, then joins them):
about a third of the whole per-image cost for a 1600x1200 JPEG. Pillow (11.2+) exports its image memory
as an Arrow array instead; this module reads that export's buffer pointer and wraps it in a read-only
view. The view is valid while the image lives and is not modified; the export capsule is kept on the
view's base object so Pillow's memory is never released under it. Where the export is unavailable (old
Pillow, a mode other than L/RGB/RGBA/RGBX, rows spread over several memory blocks) callers copy as before.
"""

from __future__ import annotations

import ctypes

import numpy as np
import numpy.typing as npt
from PIL import Image

#: Large images are stored in one block when they fit, so the view covers them too.
BLOCK_SIZE = 256 * 1024 * 1024
#: Freed blocks kept for the next image: avoids fresh page faults on every decode.
BLOCKS_KEPT = 2

_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_get_pointer.restype = ctypes.c_void_p
_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


class _ArrowArray(ctypes.Structure):
    pass


_ArrowArray._fields_ = [
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowArray))),
    ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]

_CHANNELS = {"L": 1, "RGB": 4, "RGBA": 4, "RGBX": 4}  # Pillow stores 3-band images as 4 bytes a pixel


def configure_pillow_memory() -> None:
    """Let Pillow allocate each image in one block where it can, and keep a few freed blocks."""
    core = getattr(Image, "core")  # noqa: B009 - Pillow's C core is not in its public type stubs
    if hasattr(core, "set_block_size") and hasattr(core, "set_blocks_max"):
        core.set_block_size(BLOCK_SIZE)
        core.set_blocks_max(BLOCKS_KEPT)


def pixel_view(img: Image.Image) -> npt.NDArray[np.uint8] | None:
    """A read-only ``H x W`` (L) or ``H x W x 4`` (RGB-like) view of ``img``'s memory, or None."""
    channels = _CHANNELS.get(img.mode)
    width, height = img.size
    if channels is None or width == 0 or height == 0 or not hasattr(img, "__arrow_c_array__"):
        return None
    try:
        _schema, array_capsule = img.__arrow_c_array__()
    except (ValueError, AttributeError, TypeError):
        return None  # rows not contiguous, or no export in this Pillow
    array = _ArrowArray.from_address(_get_pointer(array_capsule, b"arrow_array"))
    holder = array if channels == 1 else (array.children[0].contents if array.n_children == 1 else None)
    if holder is None or holder.n_buffers < 2 or array.length != width * height or holder.offset != 0:
        return None
    pointer = holder.buffers[1]
    if not pointer:
        return None
    nbytes = width * height * channels
    buffer = (ctypes.c_uint8 * nbytes).from_address(pointer)
    flat: npt.NDArray[np.uint8] = np.frombuffer(memoryview(buffer), dtype=np.uint8)
    view: npt.NDArray[np.uint8] = flat.reshape((height, width) if channels == 1 else (height, width, channels))
    view.flags.writeable = False
    _KEEP[id(buffer)] = (array_capsule, img)
    _finalize(buffer)
    return view


_KEEP: dict[int, object] = {}


def _finalize(buffer: object) -> None:
    """Drop the kept capsule and image once the ctypes buffer (the view's base) is collected."""
    import weakref

    key = id(buffer)
    try:
        weakref.finalize(buffer, _KEEP.pop, key, None)
    except TypeError:  # not weak-referenceable: keep nothing, the caller holds the image anyway
        _KEEP.pop(key, None)
