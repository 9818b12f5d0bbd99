"""PAdES signatures on the contract PDF (pyHanko), and a local certificate authority that issues the keys.

``LocalCertificateAuthority`` implements ``tierflow.services.external.ESignatureProvider``. It is a FAKE of
a commercial e-signature service backed by a licensed CA (such as CFCA): it keeps a self-signed EC P-256
root and issues each party, lazily on its first signature, a leaf certificate whose subject common name is
the party's name and whose ``UID`` attribute (RFC 4519 userId) carries the party id, with the
digitalSignature and nonRepudiation key usages. A real service holds the keys itself (or in the signer's
token), identifies the signer before signing and publishes revocation data; this fake does none of that,
so its signatures only prove which key of this CA signed.

Signatures are PAdES baseline B-B (``ETSI.CAdES.detached``, no timestamp, no revocation data), invisible,
each in a new signature field appended as an incremental update, so the financial institution can sign
after the applicant without breaking the applicant's signature. ``verify_pdf_signatures`` checks every
signature against given trust roots only (no network): a verifier that holds nothing but the root
certificates can use it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tierflow.services.external import ExternalServiceError, SignatureCheck

__all__ = ["LocalCertificateAuthority", "verify_pdf_signatures"]

_ROOT_NAME = "Tierflow Local Test CA"
_ROOT_VALIDITY = timedelta(days=20 * 365)
_LEAF_VALIDITY = timedelta(days=2 * 365)
_BACKDATE = timedelta(minutes=5)
_CN_MAX = 64  # RFC 5280 ub-common-name

# What may follow a signed revision while the signature still counts as covering the file: nothing, or
# revisions that only add and fill signature fields (each of which is itself a later signature).
_HARMLESS_LEVELS = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _system_clock() -> datetime:
    return datetime.now(UTC)


def _to_asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _to_asn1_key(key: ec.EllipticCurvePrivateKey) -> asn1_keys.PrivateKeyInfo:
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return asn1_keys.PrivateKeyInfo.load(der)


def _name_attribute(name: asn1_x509.Name, key: str) -> str:
    value = name.native.get(key, "")
    if isinstance(value, list):  # a repeated attribute
        value = value[0] if value else ""
    return str(value)


def _failed(message: str) -> ExternalServiceError:
    return ExternalServiceError("esign_failed", message)


def _read_pdf(pdf: bytes) -> PdfFileReader:
    if not pdf.startswith(b"%PDF-"):
        raise _failed("the document is not a PDF")
    try:
        return PdfFileReader(BytesIO(pdf), strict=False)
    except Exception as exc:  # pyhanko raises a variety of parse errors
        raise _failed(f"the PDF cannot be read: {exc}") from exc


def verify_pdf_signatures(
    pdf: bytes, trust_roots: list[x509.Certificate], *, at: datetime | None = None
) -> list[SignatureCheck]:
    """Check every signature in ``pdf`` against ``trust_roots`` (the only roots; nothing is fetched).

    ``at`` is the moment certificates must be valid at (default: now). A signature that cannot be
    evaluated at all is reported with every flag False rather than raised.
    """
    reader = _read_pdf(pdf)
    roots = [_to_asn1_cert(root) for root in trust_roots]
    try:
        embedded = list(reader.embedded_signatures)
    except Exception as exc:
        raise _failed(f"the signatures cannot be read: {exc}") from exc
    signed_revisions = sorted(sig.signed_revision for sig in embedded)
    last_revision = reader.xrefs.total_revisions - 1
    checks: list[SignatureCheck] = []
    for sig in embedded:
        context = ValidationContext(
            trust_roots=roots,
            allow_fetching=False,
            moment=None if at is None else _utc(at),
            revocation_mode="soft-fail",
        )
        try:
            status = validate_pdf_signature(sig, signer_validation_context=context)
        except Exception:
            checks.append(SignatureCheck(str(sig.field_name), "", "", False, False, False, False, None))
            continue
        later = range(sig.signed_revision + 1, last_revision + 1)
        only_signatures_after = all(rev in signed_revisions for rev in later)
        covers = status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
            status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
            and status.modification_level in _HARMLESS_LEVELS
            and only_signatures_after
        )
        subject = status.signing_cert.subject
        signed_at = status.signer_reported_dt
        checks.append(
            SignatureCheck(
                field_name=str(sig.field_name),
                signer=_name_attribute(subject, "common_name"),
                signer_party=_name_attribute(subject, "user_id"),
                intact=bool(status.intact),
                valid=bool(status.valid),
                trusted=bool(status.trusted),
                covers_whole_file=bool(covers),
                signed_at=None if signed_at is None else _utc(signed_at),
            )
        )
    return checks


@dataclass(frozen=True, slots=True)
class _Credential:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


class _ClockedPdfSigner(signers.PdfSigner):
    """A ``PdfSigner`` whose signing time (the ``/M`` entry) comes from the caller's clock."""

    def __init__(self, *args: Any, signing_time: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    def init_signing_session(self, *args: Any, **kwargs: Any) -> Any:
        session = super().init_signing_session(*args, **kwargs)
        session.system_time = self._signing_time
        return session


class LocalCertificateAuthority:
    """A fake e-signature service with its own root CA (see the module docstring); not for production.

    With ``directory``, the CA's and parties' keys and certificates are PEM files there (keys mode 0o600),
    created on first use and reused afterwards; with None they live in memory. ``clock`` gives the signing
    time and certificate validity (default: the system clock, UTC).
    """

    def __init__(self, directory: Path | None = None, *, clock: Callable[[], datetime] | None = None) -> None:
        self._directory = directory
        self._clock = clock or _system_clock
        self._lock = threading.Lock()
        self._parties: dict[str, _Credential] = {}
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._root = self._load_or_create_root()

    @property
    def root_certificate(self) -> x509.Certificate:
        """The self-signed root; give it to a verifier as its trust root."""
        return self._root.cert

    def _now(self) -> datetime:
        return _utc(self._clock())

    # --- persistence -------------------------------------------------------------------------------------

    def _paths(self, stem: str) -> tuple[Path, Path] | None:
        if self._directory is None:
            return None
        return self._directory / f"{stem}.key.pem", self._directory / f"{stem}.cert.pem"

    def _load(self, stem: str) -> _Credential | None:
        paths = self._paths(stem)
        if paths is None or not (paths[0].is_file() and paths[1].is_file()):
            return None
        key = serialization.load_pem_private_key(paths[0].read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise _failed(f"unexpected key type in {paths[0].name}")
        return _Credential(key, x509.load_pem_x509_certificate(paths[1].read_bytes()))

    def _store(self, stem: str, credential: _Credential) -> None:
        paths = self._paths(stem)
        if paths is None:
            return
        key_path, cert_path = paths
        pem = credential.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        os.chmod(key_path, 0o600)
        cert_path.write_bytes(credential.cert.public_bytes(serialization.Encoding.PEM))

    # --- issuance ----------------------------------------------------------------------------------------

    def _load_or_create_root(self) -> _Credential:
        loaded = self._load("ca")
        if loaded is not None:
            return loaded
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, _ROOT_NAME),
                # a distinct name per CA, so a verifier never confuses two local CAs' roots
                x509.NameAttribute(NameOID.SERIAL_NUMBER, os.urandom(8).hex()),
            ]
        )
        start = self._now() - _BACKDATE
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + _ROOT_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        root = _Credential(key, cert)
        self._store("ca", root)
        return root

    def _issue_leaf(self, party_id: str, party_name: str, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
        start = self._now() - _BACKDATE
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, party_name),
                x509.NameAttribute(NameOID.USER_ID, party_id),
            ]
        )
        root = self._root
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(root.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(min(start + _LEAF_VALIDITY, root.cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,  # nonRepudiation
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()), critical=False)
            .sign(root.key, hashes.SHA256())
        )

    def _credential_for(self, party_id: str, party_name: str) -> _Credential:
        if not party_id or not party_name:
            raise _failed("party id and party name are required")
        if len(party_name) > _CN_MAX or len(party_id) > _CN_MAX:
            raise _failed(f"party id and name are limited to {_CN_MAX} characters in a certificate")
        stem = "party-" + hashlib.sha256(party_id.encode("utf-8")).hexdigest()[:32]
        with self._lock:
            credential = self._parties.get(party_id) or self._load(stem)
            now = self._now()
            if credential is not None and self._still_usable(credential.cert, party_name, now):
                self._parties[party_id] = credential
                return credential
            key = credential.key if credential is not None else ec.generate_private_key(ec.SECP256R1())
            credential = _Credential(key, self._issue_leaf(party_id, party_name, key))
            self._store(stem, credential)
            self._parties[party_id] = credential
            return credential

    def _still_usable(self, cert: x509.Certificate, party_name: str, now: datetime) -> bool:
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return (
            bool(names)
            and names[0].value == party_name
            and cert.issuer == self._root.cert.subject
            and cert.not_valid_before_utc <= now < cert.not_valid_after_utc
        )

    # --- the port ----------------------------------------------------------------------------------------

    def sign(self, pdf: bytes, *, party_id: str, party_name: str, field_name: str, reason: str) -> bytes:
        """``pdf`` with a PAdES B-B signature by the party in a new field ``field_name`` (incremental update)."""
        if not field_name or "." in field_name:
            raise _failed("the signature field name must be non-empty and contain no '.'")
        reader = _read_pdf(pdf)
        try:
            existing = [name for name, _, _ in fields.enumerate_sig_fields(reader)]
        except Exception as exc:
            raise _failed(f"the PDF's form cannot be read: {exc}") from exc
        if field_name in existing:
            raise _failed(f"the signature field {field_name!r} exists already")
        credential = self._credential_for(party_id, party_name)
        signer = signers.SimpleSigner(
            signing_cert=_to_asn1_cert(credential.cert),
            signing_key=_to_asn1_key(credential.key),
            cert_registry=SimpleCertificateStore.from_certs([_to_asn1_cert(self._root.cert)]),  # type: ignore[no-untyped-call]
        )
        metadata = signers.PdfSignatureMetadata(
            field_name=field_name,
            reason=reason or None,
            name=party_name,
            subfilter=SigSeedSubFilter.PADES,
            md_algorithm="sha256",
        )
        pdf_signer = _ClockedPdfSigner(
            metadata,
            signer,
            new_field_spec=fields.SigFieldSpec(sig_field_name=field_name),
            signing_time=self._now(),
        )
        try:
            writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
            output = pdf_signer.sign_pdf(writer)
        except ExternalServiceError:
            raise
        except Exception as exc:
            raise _failed(f"signing failed: {exc}") from exc
        return bytes(output.getvalue())

    def verify(self, pdf: bytes) -> list[SignatureCheck]:
        """Every signature in ``pdf`` checked against this CA's root alone, at the clock's time."""
        return verify_pdf_signatures(pdf, [self._root.cert], at=self._now())
