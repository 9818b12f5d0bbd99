"""Canonical bytes for everything that is hashed or signed.

JSON values are serialised with RFC 8785 (JSON Canonicalization Scheme), so the
same logical value always yields the same bytes.  Floats are refused outright:
amounts and quantities travel as strings or integers, and a float in a signed
payload is almost always a bug.  Base64 helpers use the standard alphabet with
padding and decode strictly (the decoded value must re-encode to the input).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, cast

import rfc8785

__all__ = ["b64d", "b64e", "canonical_json", "canonical_json_parsed", "parse_json"]


_MAX_SAFE_INT = 2**53 - 1


def _plain(obj: object, path: str) -> bool:
    """Refuses floats, and tells whether ``json.dumps`` would already produce RFC 8785 bytes for ``obj``.

    It does for the values this project signs: strings (the standard encoder, with ``ensure_ascii=False``,
    escapes exactly what ECMAScript's ``JSON.stringify`` escapes, in the same lowercase ``\\u00xx`` form),
    integers within IEEE 754's exact range, booleans, null, and objects whose keys are ASCII (so code-point
    order is UTF-16 order). Anything else (non-ASCII keys, lone surrogates, huge integers) takes the
    ``rfc8785`` library's path, which also decides whether it is encodable at all.
    """
    if isinstance(obj, str):
        return obj.isascii() or _encodable(obj)
    if obj is None or isinstance(obj, bool):
        return True
    if isinstance(obj, int):
        return -_MAX_SAFE_INT <= obj <= _MAX_SAFE_INT
    if isinstance(obj, float):
        raise TypeError(f"float at {path} is not allowed in canonical JSON; use a string or an integer")
    if isinstance(obj, Mapping):
        plain = True
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"object key {key!r} at {path} is not a string")
            plain = _plain(value, f"{path}.{key}") and plain and key.isascii()
        return plain
    if isinstance(obj, list | tuple):
        plain = True
        for i, value in enumerate(obj):
            plain = _plain(value, f"{path}[{i}]") and plain
        return plain
    return False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def canonical_json(obj: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of ``obj`` (floats raise ``TypeError``).

    Values on which the standard library's C encoder agrees with RFC 8785 (see ``_plain``) are encoded with
    it, several times faster; the rest go through the ``rfc8785`` library. A property test checks that both
    paths give identical bytes.
    """
    if _plain(obj, "$"):
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    result: bytes = rfc8785.dumps(cast(Any, obj))
    return result


def _no_floats(text: str) -> object:
    raise ValueError(f"float {text} is not allowed")


def parse_json(data: bytes) -> object:
    """Decode UTF-8 JSON, refusing floats, NaN and Infinity (raises ``ValueError``)."""
    return json.loads(data.decode("utf-8"), parse_float=_no_floats, parse_constant=_no_floats)


def canonical_json_parsed(obj: object) -> bytes:
    """``canonical_json`` for values returned by ``parse_json`` (already float-free)."""
    return canonical_json(obj)


def b64e(data: bytes) -> str:
    """Standard base64 with padding."""
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    """Strict standard base64 decode; raises ``ValueError`` on anything non-canonical."""
    if not isinstance(text, str):
        raise ValueError("base64 value must be a string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"invalid base64: {exc}") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("invalid base64: non-canonical encoding")
    return raw
