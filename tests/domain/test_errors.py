"""Every domain error has a stable code, a kind, a message and structured fields."""

from __future__ import annotations

import re

import pytest

from tierflow.domain import ALL_ERRORS, DomainError, ErrorKind, errors


def test_all_errors_lists_every_subclass_once() -> None:
    declared = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, DomainError) and obj is not DomainError
    }
    assert set(ALL_ERRORS) == declared
    assert len(ALL_ERRORS) == len(declared) == 23


def test_codes_are_unique_snake_case() -> None:
    codes = [e.code for e in ALL_ERRORS]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code)


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.code)
def test_error_shape(cls: type[DomainError]) -> None:
    err = cls("something is off", amount=5, holding_id="h1")
    assert isinstance(err, DomainError)
    assert isinstance(cls.kind, ErrorKind)
    assert err.message == "something is off"
    assert str(err) == "something is off"
    assert err.fields == {"amount": 5, "holding_id": "h1"}
    assert cls.code in repr(err)


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (errors.InvalidAmount, ErrorKind.INVALID),
        (errors.UnknownCurrency, ErrorKind.INVALID),
        (errors.NotHolder, ErrorKind.FORBIDDEN),
        (errors.NotAuthorised, ErrorKind.FORBIDDEN),
        (errors.WrongRole, ErrorKind.FORBIDDEN),
        (errors.InvalidTransition, ErrorKind.CONFLICT),
        (errors.HoldingNotAvailable, ErrorKind.CONFLICT),
        (errors.ObligorOverdue, ErrorKind.UNPROCESSABLE),
        (errors.TierLimitExceeded, ErrorKind.UNPROCESSABLE),
    ],
)
def test_kinds(cls: type[DomainError], kind: ErrorKind) -> None:
    assert cls.kind is kind
