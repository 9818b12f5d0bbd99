from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from tierflow.ledger.canonical import b64d
from tierflow.ledger.note import (
    NoteError,
    NoteSigner,
    add_signatures,
    key_id,
    open_note,
    parse_verifier_key,
    sign_note,
    verifier_key,
)

# Example key and note from the Go sumdb/note package documentation (a C2SP signed note).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SEED = b64d("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + "\n— PeterNeumann "
    + "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_known_vector() -> None:
    signer = NoteSigner("PeterNeumann", SigningKey(GO_SEED))
    assert verifier_key("PeterNeumann", signer.public_key) == GO_VKEY
    assert sign_note(GO_TEXT, signer) == GO_NOTE
    opened = open_note(GO_NOTE, [parse_verifier_key(GO_VKEY)])
    assert opened.text == GO_TEXT
    assert [(s.name, s.key_id.hex(), s.verified) for s in opened.signatures] == [
        ("PeterNeumann", "c74f20a3", True)
    ]


def test_key_id_bytes() -> None:
    import hashlib

    pk = bytes(range(32))
    assert key_id("a/b", 1, pk) == hashlib.sha256(b"a/b\n\x01" + pk).digest()[:4]


def test_unknown_signatures_are_kept_and_ignored() -> None:
    other = NoteSigner("other.example", SigningKey.generate())
    note = add_signatures(GO_NOTE, [sign_note(GO_TEXT, other).split("\n\n")[-1]])
    opened = open_note(note, [parse_verifier_key(GO_VKEY)])
    assert [(s.name, s.known, s.verified) for s in opened.signatures] == [
        ("PeterNeumann", True, True),
        ("other.example", False, False),
    ]
    with pytest.raises(NoteError, match=r"no signature from other\.example"):
        open_note(GO_NOTE, [other.verifier()])


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        (GO_TEXT, "no signature block"),
        (GO_NOTE.replace("problem is", "problem was"), "does not verify"),
        (GO_NOTE.rstrip("\n"), "newline"),
        (GO_NOTE.replace("— ", "- "), "em dash"),
        (GO_NOTE.replace("x08go", "x08g"), "base64"),
        (GO_NOTE.replace("If you", "If\tyou"), "control character"),
        (GO_TEXT + "\n", "no signatures"),
    ],
)
def test_malformed_or_invalid_notes(note: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        open_note(note, [parse_verifier_key(GO_VKEY)])


def test_bad_verifier_keys() -> None:
    for bad in [GO_VKEY.replace("c74f20a3", "c74f20a4"), "a+b", GO_VKEY + "+x", "Pe ter+c74f20a3+AA=="]:
        with pytest.raises(NoteError):
            parse_verifier_key(bad)


def test_text_must_end_with_newline() -> None:
    with pytest.raises(NoteError):
        sign_note("no newline", NoteSigner("n", SigningKey.generate()))


def test_verifier_key_whose_base64_contains_plus() -> None:
    verifier = parse_verifier_key("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert verifier.name == "TEST" and verifier.key_id.hex() == "7997405c"
