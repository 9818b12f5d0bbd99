from __future__ import annotations

import pytest

from tierflow.ledger.canonical import b64d, b64e, canonical_json


def test_canonical_orders_keys_and_is_compact() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()


def test_floats_are_refused_anywhere() -> None:
    with pytest.raises(TypeError, match=r"\$\.x\[1\]"):
        canonical_json({"x": [1, 2.5]})


def test_base64_round_trip_and_strictness() -> None:
    assert b64d(b64e(b"\x00\xffabc")) == b"\x00\xffabc"
    for bad in ["abc", "ab!=", "QR==", "YWJj\n", "é"]:
        with pytest.raises(ValueError):
            b64d(bad)
