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


def _reject_floats(obj: object, path: str) -> None:
    if isinstance(obj, float):
        raise TypeError(f"float at {path} is not allowed in canonical JSON; use a string or an integer")
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"object key {key!r} at {path} is not a string")
            _reject_floats(value, f"{path}.{key}")
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            _reject_floats(value, f"{path}[{i}]")


def canonical_json(obj: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of ``obj`` (floats raise ``TypeError``)."""
    _reject_floats(obj, "$")
    result: bytes = rfc8785.dumps(cast(Any, obj))
    return result


def _no_floats(text: str) -> object:
    raise ValueError(f"float {text} is not allowed")


def parse_json(data: bytes) -> object:
    """Decode UTF-8 JSON, refusing floats, NaN and Infinity (raises ``ValueError``)."""
    return json.loads(data.decode("utf-8"), parse_float=_no_floats, parse_constant=_no_floats)


def canonical_json_parsed(obj: object) -> bytes:
    """``canonical_json`` for values returned by ``parse_json`` (already float-free)."""
    result: bytes = rfc8785.dumps(cast(Any, obj))
    return result


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
