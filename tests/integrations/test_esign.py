"""PAdES signing and verification with the local certificate authority."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.generic import pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tierflow.integrations.contract_pdf import render_contract
from tierflow.integrations.esign import LocalCertificateAuthority, verify_pdf_signatures
from tierflow.services.external import ESignatureProvider, ExternalServiceError

from .test_contract_pdf import TERMS

SIGNED_AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def fixed_clock() -> datetime:
    return SIGNED_AT


@pytest.fixture(scope="module")
def ca() -> LocalCertificateAuthority:
    return LocalCertificateAuthority(clock=fixed_clock)


@pytest.fixture(scope="module")
def contract() -> bytes:
    return render_contract(TERMS)


@pytest.fixture(scope="module")
def signed_by_both(ca: LocalCertificateAuthority, contract: bytes) -> bytes:
    applicant = "深圳华强电子有限公司"
    first = ca.sign(contract, party_id="party-supplier-1", party_name=applicant, field_name="applicant", reason="Apply")
    return ca.sign(first, party_id="party-bank-1", party_name="Example Bank", field_name="financier", reason="Finance")


def test_is_an_esignature_provider(ca: LocalCertificateAuthority) -> None:
    provider: ESignatureProvider = ca
    assert provider is ca


def test_unsigned_pdf_has_no_signatures(ca: LocalCertificateAuthority, contract: bytes) -> None:
    assert ca.verify(contract) == []


def test_two_parties_sign_in_turn(ca: LocalCertificateAuthority, signed_by_both: bytes) -> None:
    checks = ca.verify(signed_by_both)
    assert [(c.field_name, c.signer, c.signer_party) for c in checks] == [
        ("applicant", "深圳华强电子有限公司", "party-supplier-1"),
        ("financier", "Example Bank", "party-bank-1"),
    ]
    for check in checks:
        assert check.intact and check.valid and check.trusted and check.covers_whole_file
        assert check.signed_at == SIGNED_AT


def test_first_signature_alone_and_after_the_second(ca: LocalCertificateAuthority, contract: bytes) -> None:
    first = ca.sign(contract, party_id="p-a", party_name="Applicant", field_name="applicant", reason="sign")
    (alone,) = ca.verify(first)
    assert alone.trusted and alone.covers_whole_file
    second = ca.sign(first, party_id="p-b", party_name="Bank", field_name="financier", reason="sign")
    assert second.startswith(first)  # an incremental update
    (earlier, _) = ca.verify(second)
    assert earlier.intact and earlier.valid and earlier.trusted and earlier.covers_whole_file


def test_a_byte_changed_in_the_signed_range_breaks_the_signatures(
    ca: LocalCertificateAuthority, signed_by_both: bytes
) -> None:
    title = b"Receivable assignment and financing contract"
    position = signed_by_both.index(title)  # in the first revision, covered by both signatures
    tampered = signed_by_both[:position] + b"r" + signed_by_both[position + 1 :]
    checks = ca.verify(tampered)
    assert len(checks) == 2
    assert not any(c.intact for c in checks)
    assert not any(c.trusted for c in checks)


def test_an_unsigned_update_after_signing_is_not_covered(ca: LocalCertificateAuthority, contract: bytes) -> None:
    signed = ca.sign(contract, party_id="p-a", party_name="Applicant", field_name="applicant", reason="sign")
    writer = IncrementalPdfFileWriter(BytesIO(signed))
    info = writer.trailer["/Info"]
    info["/Title"] = pdf_string("A different contract")
    writer.update_container(info)
    buffer = BytesIO()
    writer.write(buffer)  # type: ignore[no-untyped-call]
    (check,) = ca.verify(buffer.getvalue())
    assert check.intact and check.valid
    assert not check.covers_whole_file


def test_another_ca_is_not_trusted(ca: LocalCertificateAuthority, signed_by_both: bytes) -> None:
    other = LocalCertificateAuthority(clock=fixed_clock)
    for check in other.verify(signed_by_both):
        assert check.intact and check.valid
        assert not check.trusted
    foreign = other.sign(signed_by_both, party_id="p-x", party_name="Intruder", field_name="x", reason="sign")
    checks = ca.verify(foreign)
    assert [c.trusted for c in checks] == [True, True, False]


def test_verify_with_root_certificates_only(ca: LocalCertificateAuthority, signed_by_both: bytes) -> None:
    checks = verify_pdf_signatures(signed_by_both, [ca.root_certificate], at=SIGNED_AT)
    assert [c.trusted for c in checks] == [True, True]
    assert [c.trusted for c in verify_pdf_signatures(signed_by_both, [], at=SIGNED_AT)] == [False, False]


def test_signing_into_an_existing_field_is_refused(ca: LocalCertificateAuthority, signed_by_both: bytes) -> None:
    with pytest.raises(ExternalServiceError) as raised:
        ca.sign(signed_by_both, party_id="p-a", party_name="Applicant", field_name="applicant", reason="again")
    assert raised.value.code == "esign_failed"


@pytest.mark.parametrize("document", [b"", b"not a pdf", b"%PDF-1.7\ngarbage"])
def test_bad_input_is_refused(ca: LocalCertificateAuthority, document: bytes) -> None:
    with pytest.raises(ExternalServiceError) as raised:
        ca.sign(document, party_id="p-a", party_name="Applicant", field_name="applicant", reason="sign")
    assert raised.value.code == "esign_failed"


def test_missing_party_is_refused(ca: LocalCertificateAuthority, contract: bytes) -> None:
    with pytest.raises(ExternalServiceError):
        ca.sign(contract, party_id="", party_name="Applicant", field_name="applicant", reason="sign")


@pytest.fixture
def ca_directory(tmp_path: Path) -> Path:
    return tmp_path / "ca"


def test_directory_backed_ca_persists(ca_directory: Path, contract: bytes) -> None:
    first = LocalCertificateAuthority(ca_directory, clock=fixed_clock)
    signed = first.sign(contract, party_id="p-a", party_name="Applicant", field_name="applicant", reason="sign")
    key_files = sorted(ca_directory.glob("*.key.pem"))
    assert len(key_files) == 2  # the CA and the party
    for key_file in key_files:
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    again = LocalCertificateAuthority(ca_directory, clock=fixed_clock)
    assert again.root_certificate == first.root_certificate
    (check,) = again.verify(signed)
    assert check.trusted and check.signer_party == "p-a"
    leaf_before = sorted(ca_directory.glob("*.cert.pem"))
    contents_before = [path.read_bytes() for path in leaf_before]
    again.sign(contract, party_id="p-a", party_name="Applicant", field_name="applicant", reason="sign")
    assert [path.read_bytes() for path in sorted(ca_directory.glob("*.cert.pem"))] == contents_before


def test_leaf_certificate_carries_name_id_and_key_usage(ca_directory: Path, contract: bytes) -> None:
    authority = LocalCertificateAuthority(ca_directory, clock=fixed_clock)
    authority.sign(contract, party_id="p-a", party_name="Applicant", field_name="applicant", reason="sign")
    root = authority.root_certificate
    (leaf_path,) = ca_directory.glob("party-*.cert.pem")
    leaf = x509.load_pem_x509_certificate(leaf_path.read_bytes())
    assert leaf.issuer == root.subject
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Applicant"
    assert leaf.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == "p-a"
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
