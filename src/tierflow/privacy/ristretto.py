"""ristretto255 (RFC 9496) and hash-to-group (RFC 9380) through libsodium.

Design: PyNaCl does not expose libsodium's ristretto255 API, so this module binds the handful of functions the
private-set-intersection protocols need with ``ctypes`` and keeps everything else in Python. Points and scalars
are plain 32-byte ``bytes`` (canonical encodings); lengths are checked before any call reaches C, and every
operation that would yield the identity element or that receives an invalid encoding raises ``GroupError``.

``hash_to_group`` is RFC 9380's ``hash_to_ristretto255``: ``expand_message_xmd`` with SHA-512 (implemented here,
RFC 9380 §5.3.1) to 64 uniform bytes, then RFC 9496's one-way map (``crypto_core_ristretto255_from_hash``).

libsodium is loaded lazily on first use, so importing this module never fails; a missing or too old library
raises ``PrivacyUnavailable`` with the install hint. ``ctypes`` releases the GIL during foreign calls, so the
batch helpers can spread work over threads (``workers``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

POINT_BYTES = 32
SCALAR_BYTES = 32
UNIFORM_BYTES = 64
IDENTITY = bytes(POINT_BYTES)
PSI_DST = b"tierflow-psi-v1-ristretto255_XMD:SHA-512_R255MAP_RO_"
"""Domain-separation tag for hashing PSI items to the group (RFC 9380 §3.1 naming)."""

INSTALL_HINT = "install libsodium >= 1.0.18 (Debian/Ubuntu: `apt-get install libsodium23`)"

_SHA512_BLOCK = 128
_SHA512_OUT = 64
_ZPAD_STATE = hashlib.sha512(bytes(_SHA512_BLOCK))  # Z_pad is exactly one block: hash it once, copy per call


class PrivacyUnavailable(RuntimeError):
    """libsodium with ristretto255 support could not be loaded."""


class GroupError(ValueError):
    """An invalid encoding was given, or the result would be the identity element."""


_lock = threading.Lock()
_lib: ctypes.CDLL | None = None

_SIGNATURES: dict[str, int] = {
    # name: number of pointer arguments (all functions return int, except void ones marked below)
    "crypto_core_ristretto255_from_hash": 2,
    "crypto_core_ristretto255_is_valid_point": 1,
    "crypto_core_ristretto255_add": 3,
    "crypto_core_ristretto255_scalar_random": 1,
    "crypto_core_ristretto255_scalar_invert": 2,
    "crypto_core_ristretto255_scalar_reduce": 2,
    "crypto_scalarmult_ristretto255": 3,
    "crypto_scalarmult_ristretto255_base": 2,
}
_VOID = {"crypto_core_ristretto255_scalar_random", "crypto_core_ristretto255_scalar_reduce"}


def _load() -> ctypes.CDLL:
    names = [n for n in (ctypes.util.find_library("sodium"), "libsodium.so.23", "libsodium.so", "libsodium.dylib") if n]
    lib: ctypes.CDLL | None = None
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        raise PrivacyUnavailable(f"libsodium was not found; {INSTALL_HINT}")
    try:
        for fname, arity in _SIGNATURES.items():
            func = getattr(lib, fname)
            func.argtypes = [ctypes.c_char_p] * arity
            func.restype = None if fname in _VOID else ctypes.c_int
        lib.sodium_init.argtypes = []
        lib.sodium_init.restype = ctypes.c_int
    except AttributeError as exc:
        raise PrivacyUnavailable(f"libsodium lacks ristretto255 ({exc}); {INSTALL_HINT}") from exc
    if lib.sodium_init() < 0:
        raise PrivacyUnavailable("sodium_init() failed")
    return lib


def sodium() -> ctypes.CDLL:
    """The loaded, initialised libsodium (``sodium_init`` runs once)."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                _lib = _load()
    return _lib


def available() -> bool:
    """Whether libsodium with ristretto255 can be used here."""
    try:
        sodium()
    except PrivacyUnavailable:
        return False
    return True


def _check(value: bytes, size: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise GroupError(f"{what} must be {size} bytes")


# --- RFC 9380 -------------------------------------------------------------------------------------------------


def expand_message_xmd(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """RFC 9380 §5.3.1 ``expand_message_xmd`` with SHA-512 (long DSTs hashed per §5.3.3)."""
    if len(dst) > 255:
        dst = hashlib.sha512(b"H2C-OVERSIZE-DST-" + dst).digest()
    ell = -(-len_in_bytes // _SHA512_OUT)
    if len_in_bytes < 0 or ell > 255 or len_in_bytes > 65535:
        raise ValueError("len_in_bytes out of range")
    dst_prime = dst + bytes([len(dst)])
    h0 = _ZPAD_STATE.copy()
    h0.update(msg + len_in_bytes.to_bytes(2, "big") + b"\x00" + dst_prime)
    b0 = h0.digest()
    previous = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
    blocks = [previous]
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b0, previous, strict=True))
        previous = hashlib.sha512(mixed + bytes([i]) + dst_prime).digest()
        blocks.append(previous)
    return b"".join(blocks)[:len_in_bytes]


def from_uniform_bytes(uniform: bytes) -> bytes:
    """RFC 9496 §4.3.4 one-way map: 64 uniform bytes to a group element."""
    _check(uniform, UNIFORM_BYTES, "uniform input")
    out = ctypes.create_string_buffer(POINT_BYTES)
    if sodium().crypto_core_ristretto255_from_hash(out, uniform) != 0:
        raise GroupError("from_hash failed")
    return out.raw


def hash_to_group(msg: bytes, dst: bytes = PSI_DST) -> bytes:
    """RFC 9380 ``hash_to_ristretto255(msg)`` under ``dst``."""
    return from_uniform_bytes(expand_message_xmd(msg, dst, UNIFORM_BYTES))


# --- group and scalar operations ------------------------------------------------------------------------------


def is_valid_point(point: bytes) -> bool:
    """Whether ``point`` is a canonical ristretto255 encoding (RFC 9496 §4.3.1); the identity is valid."""
    if not isinstance(point, bytes) or len(point) != POINT_BYTES:
        return False
    return bool(sodium().crypto_core_ristretto255_is_valid_point(point) == 1)


def scalarmult(scalar: bytes, point: bytes) -> bytes:
    """``scalar * point``; raises ``GroupError`` for an invalid point or an identity result."""
    _check(scalar, SCALAR_BYTES, "scalar")
    _check(point, POINT_BYTES, "point")
    out = ctypes.create_string_buffer(POINT_BYTES)
    if sodium().crypto_scalarmult_ristretto255(out, scalar, point) != 0:
        raise GroupError("invalid point or identity result")
    return out.raw


def scalarmult_base(scalar: bytes) -> bytes:
    """``scalar * B`` for the RFC 9496 generator; raises ``GroupError`` when the result is the identity."""
    _check(scalar, SCALAR_BYTES, "scalar")
    out = ctypes.create_string_buffer(POINT_BYTES)
    if sodium().crypto_scalarmult_ristretto255_base(out, scalar) != 0:
        raise GroupError("identity result")
    return out.raw


def add(p: bytes, q: bytes) -> bytes:
    """``p + q``; raises ``GroupError`` for invalid encodings."""
    _check(p, POINT_BYTES, "point")
    _check(q, POINT_BYTES, "point")
    out = ctypes.create_string_buffer(POINT_BYTES)
    if sodium().crypto_core_ristretto255_add(out, p, q) != 0:
        raise GroupError("invalid point")
    return out.raw


def scalar_random() -> bytes:
    """A uniformly random non-zero scalar."""
    out = ctypes.create_string_buffer(SCALAR_BYTES)
    sodium().crypto_core_ristretto255_scalar_random(out)
    return out.raw


def scalar_invert(scalar: bytes) -> bytes:
    """The multiplicative inverse of ``scalar`` modulo the group order; zero raises ``GroupError``."""
    _check(scalar, SCALAR_BYTES, "scalar")
    out = ctypes.create_string_buffer(SCALAR_BYTES)
    if sodium().crypto_core_ristretto255_scalar_invert(out, scalar) != 0:
        raise GroupError("zero has no inverse")
    return out.raw


def scalar_reduce(wide: bytes) -> bytes:
    """A 64-byte little-endian integer reduced modulo the group order."""
    _check(wide, UNIFORM_BYTES, "wide scalar")
    out = ctypes.create_string_buffer(SCALAR_BYTES)
    sodium().crypto_core_ristretto255_scalar_reduce(out, wide)
    return out.raw


# --- batches --------------------------------------------------------------------------------------------------


def _hash_chunk(msgs: Sequence[bytes], dst: bytes) -> list[bytes]:
    lib = sodium()
    dst_prime = dst + bytes([len(dst)]) if len(dst) <= 255 else b""
    if not dst_prime:
        return [hash_to_group(m, dst) for m in msgs]
    tail = UNIFORM_BYTES.to_bytes(2, "big") + b"\x00" + dst_prime
    one = b"\x01" + dst_prime
    from_hash = lib.crypto_core_ristretto255_from_hash
    sha512 = hashlib.sha512
    out = ctypes.create_string_buffer(POINT_BYTES)
    result: list[bytes] = []
    for msg in msgs:
        h0 = _ZPAD_STATE.copy()
        h0.update(msg + tail)
        uniform = sha512(h0.digest() + one).digest()  # ell == 1 for 64 output bytes
        from_hash(out, uniform)
        result.append(out.raw)
    return result


def _mult_chunk(scalar: bytes, points: Sequence[bytes]) -> list[bytes]:
    mult = sodium().crypto_scalarmult_ristretto255
    out = ctypes.create_string_buffer(POINT_BYTES)
    result: list[bytes] = []
    for point in points:
        if len(point) != POINT_BYTES or mult(out, scalar, point) != 0:
            raise GroupError("invalid point or identity result")
        result.append(out.raw)
    return result


def _parallel(func: Callable[[Sequence[bytes]], list[bytes]], items: Sequence[bytes], workers: int) -> list[bytes]:
    if workers <= 1 or len(items) < 2048:
        return func(items)
    size = -(-len(items) // workers)
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(func, chunks))
    return [p for part in parts for p in part]


def hash_to_group_many(msgs: Sequence[bytes], dst: bytes = PSI_DST, *, workers: int = 1) -> list[bytes]:
    """``hash_to_group`` over a batch, optionally on ``workers`` threads."""
    return _parallel(lambda chunk: _hash_chunk(chunk, dst), msgs, workers)


def scalarmult_many(scalar: bytes, points: Sequence[bytes], *, workers: int = 1) -> list[bytes]:
    """``scalarmult`` over a batch; any invalid point or identity result raises ``GroupError``."""
    _check(scalar, SCALAR_BYTES, "scalar")
    return _parallel(lambda chunk: _mult_chunk(scalar, chunk), points, workers)
