"""msgpack with numpy arrays, as the three policy protocols put them on the wire, decoded without trusting
the sender.

Arrays travel as a map `{"__ndarray__": true, "dtype": DTYPE, "shape": [...], "data": BYTES}`. The three
protocols differ in details, and decoding accepts all of them:
- the key style: this project and vla-eval use str keys, openpi's msgpack_numpy bytes keys (b"__ndarray__");
- numpy scalars: openpi sends `{b"__npgeneric__": true, b"dtype": ..., b"data": value}`, the others a plain
  msgpack number;
- images: vla-eval may send an HWC uint8 array as `{"__image__": true, "format": "png"|"jpeg"|"raw", ...}`.

What decoding refuses, with a ProtocolError naming it: a dtype outside the bool/int/uint/float kinds (no
object, structured, void or complex arrays: nothing from the wire is unpickled or executed), a shape
that is not a list of at most MAX_NDIM non-negative integers, data whose length is not shape x itemsize,
an array (or decoded image) over `max_array_bytes`, and a frame over `max_frame_bytes`.
"""
from __future__ import annotations

import io
import math

import numpy as np

MAX_FRAME_BYTES = 1 << 30  # a batch of 16 observations at 336 px is about 16 MB
MAX_ARRAY_BYTES = 1 << 28  # one array: a 336 px RGB image is 0.34 MB, its float32 depth 0.45 MB
MAX_NDIM = 8
ALLOWED_KINDS = "biuf"  # bool, signed and unsigned integers, floats
IMAGE_FORMATS = ("raw", "png", "jpeg")


class ProtocolError(ValueError):
    """A message that does not follow its protocol; its text says what is wrong."""


_MISSING = object()


def _field(m: dict, name: str):
    """m[name] under a str or a bytes key (openpi's msgpack_numpy writes bytes keys)."""
    if name in m:
        return m[name]
    return m.get(name.encode(), _MISSING)


def _dtype(value) -> np.dtype:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        raise ProtocolError(f"array dtype must be a string like '<f4', got {type(value).__name__}")
    try:
        dt = np.dtype(value)
    except (TypeError, ValueError):
        raise ProtocolError(f"array dtype {value!r} is not a numpy dtype") from None
    if dt.kind not in ALLOWED_KINDS or dt.shape != () or dt.fields is not None:
        raise ProtocolError(f"array dtype {value!r} is not allowed; allowed: bool, int, uint and float kinds")
    return dt


def _shape(value) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_NDIM or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value):
        raise ProtocolError(f"array shape must be a list of at most {MAX_NDIM} non-negative integers, got {value!r}")
    return tuple(value)


def _check_size(shape: tuple, itemsize: int, limit: int) -> int:
    nbytes = math.prod(shape) * itemsize
    if nbytes > limit:
        raise ProtocolError(f"array of shape {list(shape)} holds {nbytes} bytes, over the limit of {limit} bytes")
    return nbytes


def _array(m: dict, limit: int) -> np.ndarray:
    dt, shape, data = _dtype(_field(m, "dtype")), _shape(_field(m, "shape")), _field(m, "data")
    nbytes = _check_size(shape, dt.itemsize, limit)
    if not isinstance(data, (bytes, bytearray)):
        raise ProtocolError(f"array data must be binary, got {type(data).__name__}")
    if len(data) != nbytes:
        raise ProtocolError(f"array data holds {len(data)} bytes; shape {list(shape)} of {dt.str} needs {nbytes}")
    return np.frombuffer(data, dtype=dt).reshape(shape)


def _scalar(m: dict):
    dt, value = _dtype(_field(m, "dtype")), _field(m, "data")
    if not isinstance(value, (bool, int, float)):
        raise ProtocolError(f"numpy scalar data must be a number, got {type(value).__name__}")
    try:
        return dt.type(value)
    except (OverflowError, ValueError) as e:
        raise ProtocolError(f"numpy scalar {value!r} does not fit {dt.str} ({e})") from None


def _image(m: dict, limit: int) -> np.ndarray:
    fmt = _field(m, "format")
    fmt = fmt.decode("ascii", "replace") if isinstance(fmt, bytes) else fmt
    if fmt not in IMAGE_FORMATS:
        raise ProtocolError(f"image format {fmt!r} is unknown; allowed: {', '.join(IMAGE_FORMATS)}")
    if fmt == "raw":
        return _array(m, limit)
    shape, data = _shape(_field(m, "shape")), _field(m, "data")
    if len(shape) != 3 or shape[2] not in (1, 3, 4):
        raise ProtocolError(f"an encoded image must have shape [H, W, C] with C in 1, 3, 4, got {list(shape)}")
    _check_size(shape, 1, limit)
    if not isinstance(data, (bytes, bytearray)):
        raise ProtocolError(f"image data must be binary, got {type(data).__name__}")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != fmt.upper() or (img.height, img.width) != shape[:2]:
                raise ProtocolError(f"image data is a {img.format} of {img.height}x{img.width}, declared {fmt} "
                                    f"of {shape[0]}x{shape[1]}")
            arr = np.asarray(img)
    except ProtocolError:
        raise
    except Exception as e:  # truncated or corrupt data
        raise ProtocolError(f"image data is not a readable {fmt} ({type(e).__name__}: {e})") from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape != shape or arr.dtype != np.uint8:
        raise ProtocolError(f"image decodes to {arr.dtype} {list(arr.shape)}, declared uint8 {list(shape)}")
    return arr


def encode(obj, keys: str = "str") -> bytes:
    """msgpack bytes of `obj`, numpy arrays as maps with `keys` "str" (this project, vla-eval) or "bytes"
    (openpi's msgpack_numpy); numpy scalars become plain numbers ("str") or openpi's __npgeneric__ ("bytes")."""
    import msgpack

    as_bytes = keys == "bytes"

    def pack(o):
        if isinstance(o, np.ndarray):
            a = np.ascontiguousarray(o)
            if a.dtype.kind not in ALLOWED_KINDS:
                raise TypeError(f"arrays of dtype {a.dtype} cannot be sent")
            m = {"__ndarray__": True, "dtype": a.dtype.str, "shape": list(a.shape), "data": a.tobytes()}
            return {k.encode(): v for k, v in m.items()} if as_bytes else m
        if isinstance(o, np.generic):
            if as_bytes:
                return {b"__npgeneric__": True, b"dtype": o.dtype.str, b"data": o.item()}
            return o.item()
        if isinstance(o, tuple):
            return list(o)
        raise TypeError(f"cannot encode a {type(o).__name__}")

    return msgpack.packb(obj, default=pack, use_bin_type=True)


def decode(data, max_array_bytes: int = MAX_ARRAY_BYTES, max_frame_bytes: int = MAX_FRAME_BYTES):
    """The object in msgpack `data` (bytes), arrays of any of the three styles decoded (read-only);
    ProtocolError for a text frame, a frame over `max_frame_bytes`, bad msgpack or a refused array."""
    import msgpack

    if isinstance(data, str):
        raise ProtocolError("text frame: messages are binary msgpack frames")
    if len(data) > max_frame_bytes:
        raise ProtocolError(f"frame of {len(data)} bytes, over the limit of {max_frame_bytes} bytes")

    def hook(m):
        if _field(m, "__ndarray__") is True:
            return _array(m, max_array_bytes)
        if _field(m, "__npgeneric__") is True:
            return _scalar(m)
        if _field(m, "__image__") is True:
            return _image(m, max_array_bytes)
        return m

    try:
        return msgpack.unpackb(data, object_hook=hook, raw=False, strict_map_key=False)
    except ProtocolError:
        raise
    except Exception as e:
        raise ProtocolError(f"not msgpack ({type(e).__name__}: {e})") from None


def decode_map(data, **limits) -> dict:
    """decode(data), which must be a map."""
    out = decode(data, **limits)
    if not isinstance(out, dict):
        raise ProtocolError(f"expected a map, got {type(out).__name__}")
    return out
