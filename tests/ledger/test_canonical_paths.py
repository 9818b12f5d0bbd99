"""The fast canonical encoder agrees byte for byte with the rfc8785 library on every float-free value."""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from tierflow.ledger.canonical import canonical_json

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.text(),
    st.text(alphabet=st.characters(max_codepoint=0x7F)),
    st.sampled_from(["\u2028", "\x7f", "\x00\x1f", '"\\', "\ud7ff\ue000\U0001f600", "caf\u00e9"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.text(alphabet="abcXYZ_-.", max_size=6)), children, max_size=5
        ),
    ),
    max_leaves=25,
)


@given(values)
@settings(max_examples=400, deadline=None)
def test_fast_path_matches_rfc8785(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


def test_keys_outside_the_bmp_sort_by_utf16() -> None:
    value = {"\uff61": 1, "\U0001f600": 2}  # UTF-16 puts the emoji (a surrogate pair) first
    assert canonical_json(value) == rfc8785.dumps(value)
