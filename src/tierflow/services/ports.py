"""Ports: what the services need from storage. ``tierflow.store`` implements them with SQLAlchemy.

The unit of work owns the transaction: services open one, work through its repository, and call
``commit()``; a ``savepoint()`` lets a batch of commands share one transaction (group commit) while each
failed command rolls back alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from tierflow.domain.model import Financing, Holding, Offer, Party, Voucher


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: str
    kind: str
    actor_id: str
    at: str
    command_digest: str
    leaf: bytes
    concerns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    request_hash: str
    status_code: int
    response: str


@dataclass(frozen=True, slots=True)
class FreezeRecord:
    id: str
    voucher_id: str
    holding_id: str
    reason: str
    status: str


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    id: str
    voucher_id: str
    obligor_id: str
    paid_minor: int
    overdue_minor: int
    value_date: date
    payments: tuple[tuple[str, str, int], ...]  # (holding id, holder id, amount)


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """A registered trade document; ``fields`` is its normalised wire form as canonical JSON text."""

    id: str
    type: str
    number: str
    registered_by: str
    seller_id: str
    buyer_id: str
    seller_uscc: str | None
    buyer_uscc: str | None
    fields: str
    content_hash: str
    source: str


@dataclass(frozen=True, slots=True)
class VerificationRecord:
    """A stored verdict: ``results`` is the JSON list of rule results, ``documents`` the claimed documents'
    ``{type, number, content_hash}`` as JSON."""

    id: str
    subject_kind: str  # issue | transfer | financing
    subject_id: str  # voucher, offer or financing id
    voucher_id: str
    outcome: str
    ruleset: str
    results: str
    documents: str


@dataclass(frozen=True, slots=True)
class InvoiceUseRecord:
    invoice_number: str
    use_id: str
    kind: str  # issue | transfer | financing
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """The financing case's current state (``tierflow.domain.financing_case``)."""

    financing_id: str
    stage: str
    recourse: bool
    verification_id: str | None = None
    maker: str | None = None
    recommendation: str | None = None
    checker: str | None = None
    contract_number: str | None = None
    contract_sha256: str | None = None
    registry_number: str | None = None
    payment_message_id: str | None = None
    payment_sha256: str | None = None
    bank_reference: str | None = None
    repaid_minor: int = 0


@dataclass(frozen=True, slots=True)
class CaseStep:
    financing_id: str
    stage: str
    actor_id: str
    user_name: str | None
    note: str | None
    at: str


@dataclass(frozen=True, slots=True)
class RepaymentRecord:
    entry_ref: str
    financing_id: str
    amount_minor: int
    currency: str
    booking_date: date
    payer: str | None


@dataclass(frozen=True, slots=True)
class CaseFile:
    sha256: str
    financing_id: str | None
    kind: str
    media_type: str
    content: bytes
    created_at: str


@dataclass(frozen=True, slots=True)
class LabelRecord:
    id: str
    subject_kind: str
    subject_id: str
    taxonomy_id: str
    taxonomy_version: str
    item_code: str
    criterion_id: str
    record: str  # the label as signed, canonical JSON
    certifier_id: str
    valid_from: date
    valid_to: date | None
    status: str


@dataclass(frozen=True, slots=True)
class KpiObservationRecord:
    id: str
    financing_id: str
    kpi_id: str
    year: int
    certifier_id: str
    observation: str
    outcome: str
    adjustment_bp: int
    assessment: str


class Repository(Protocol):
    @property
    def row_locks(self) -> bool:
        """True when ``for_update`` reads lock rows; False when the whole database has one writer."""
        ...

    # parties
    def get_party(self, party_id: str) -> Party | None: ...
    def party_by_token_hash(self, token_hash: str) -> Party | None: ...
    def add_party(self, party: Party, token_hash: str | None, event_id: str) -> None: ...
    def set_token_hash(self, party_id: str, token_hash: str) -> None: ...
    def lock_party(self, party_id: str) -> None: ...
    def operator(self) -> Party | None: ...

    # vouchers and holdings
    def get_voucher(self, voucher_id: str, *, for_update: bool = False) -> Voucher | None: ...
    def add_voucher(self, voucher: Voucher, event_id: str) -> None: ...
    def update_voucher(self, voucher: Voucher) -> None: ...
    def obligor_has_overdue(self, obligor_id: str, today: date) -> bool: ...
    def get_holding(self, holding_id: str, *, for_update: bool = False) -> Holding | None: ...
    def add_holdings(self, holdings: Sequence[Holding], event_id: str) -> None: ...
    def set_holding_status(self, holding: Holding, event_id: str) -> None: ...
    def supersede(self, holdings: Sequence[Holding], event_id: str) -> None: ...
    def active_holdings(self, voucher_id: str, *, for_update: bool = False) -> list[Holding]: ...

    # offers, financings, freezes, settlements
    def get_offer(self, offer_id: str, *, for_update: bool = False) -> Offer | None: ...
    def add_offer(self, offer: Offer, event_id: str) -> None: ...
    def update_offer(self, offer: Offer, event_id: str) -> None: ...
    def pending_offers(self, voucher_id: str) -> list[Offer]: ...
    def expired_offer_ids(self, now_iso: str, limit: int) -> list[str]: ...
    def get_financing(self, financing_id: str, *, for_update: bool = False) -> Financing | None: ...
    def add_financing(self, financing: Financing, event_id: str) -> None: ...
    def update_financing(self, financing: Financing, event_id: str, funded_holding_id: str | None) -> None: ...
    def requested_financings(self, voucher_id: str) -> list[Financing]: ...
    def get_freeze(self, freeze_id: str, *, for_update: bool = False) -> FreezeRecord | None: ...
    def add_freeze(self, freeze: FreezeRecord, event_id: str) -> None: ...
    def release_freeze(self, freeze_id: str, event_id: str) -> None: ...
    def add_settlement(self, settlement: SettlementRecord, event_id: str) -> None: ...

    # trade documents
    def get_document_by_number(self, doc_type: str, number: str) -> DocumentRecord | None: ...
    def add_document(self, document: DocumentRecord, event_id: str) -> None: ...
    def uscc_bindings(self, usccs: Sequence[str]) -> list[tuple[str, str]]:
        """``(uscc, party id)`` pairs recorded by registered invoices for any of ``usccs``."""
        ...

    def party_usccs(self, party_ids: Sequence[str]) -> list[tuple[str, str]]:
        """``(party id, uscc)`` pairs recorded by registered invoices for any of ``party_ids``."""
        ...

    def bind_usccs(self, pairs: Sequence[tuple[str, str]], event_id: str) -> None:
        """Record ``(party id, uscc)`` bindings not yet recorded (the first invoice tying them)."""
        ...

    def lock_documents(self, doc_type: str, numbers: Sequence[str]) -> None:
        """Row-lock the registered documents (in number order), so that hops claiming the same invoice serialise
        on it (a no-op where one writer runs at a time)."""
        ...

    def documents_by_number(self, doc_type: str, numbers: Sequence[str]) -> list[DocumentRecord]: ...

    # trade verification
    def add_verification(self, record: VerificationRecord, event_id: str) -> None: ...
    def verification(self, verification_id: str) -> VerificationRecord | None: ...
    def verifications_of(self, subject_id: str) -> list[VerificationRecord]: ...
    def invoice_uses(self, numbers: Sequence[str]) -> list[InvoiceUseRecord]:
        """The unreleased uses of any of ``numbers``."""
        ...

    def add_invoice_uses(self, uses: Sequence[InvoiceUseRecord], event_id: str) -> None: ...
    def release_invoice_uses(self, use_id: str, event_id: str) -> None: ...
    def offer_created_on(self, offer_id: str) -> date | None: ...
    def accepted_offer_for_holding(self, holding_id: str) -> Offer | None:
        """The accepted offer whose offered part is ``holding_id`` (how its holder received it), if any."""
        ...

    # financing cases
    def get_case(self, financing_id: str, *, for_update: bool = False) -> CaseRecord | None: ...
    def put_case(self, case: CaseRecord, event_id: str) -> None:
        """Insert or replace the case's row."""
        ...

    def add_case_step(self, step: CaseStep, event_id: str) -> None: ...
    def cases_due(
        self, financier_id: str | None, until: date, *, stages: Sequence[str] = ..., limit: int = 500
    ) -> list[tuple[Financing, CaseRecord]]:
        """Cases of ``financier_id`` (any, for None) in ``stages`` (default: the post-loan ones) maturing on or
        before ``until``, soonest first."""
        ...

    def case_steps(self, financing_id: str) -> list[tuple[str, CaseStep]]:
        """``(event id, step)`` in order."""
        ...

    def add_repayment(self, repayment: RepaymentRecord, event_id: str) -> None: ...
    def repayment(self, entry_ref: str) -> RepaymentRecord | None: ...
    def repayments_of(self, financing_id: str) -> list[RepaymentRecord]: ...
    def put_file(self, file: CaseFile) -> None:
        """Store a file by its hash (a second store of the same bytes is a no-op)."""
        ...

    def get_file(self, sha256: str) -> CaseFile | None: ...
    def files_of(self, financing_id: str) -> list[CaseFile]: ...

    # green finance
    def add_label(self, label: LabelRecord, event_id: str) -> None: ...
    def get_label(self, label_id: str) -> LabelRecord | None: ...
    def revoke_label(self, label_id: str, event_id: str) -> None: ...
    def put_sll_terms(self, financing_id: str, terms: str, event_id: str) -> None: ...
    def sll_terms(self, financing_id: str) -> str | None: ...
    def add_kpi_observation(self, observation: KpiObservationRecord, event_id: str) -> None: ...
    def kpi_observations(self, financing_id: str) -> list[KpiObservationRecord]: ...
    def kpi_observation_exists(self, financing_id: str, kpi_id: str, year: int) -> bool: ...
    def labels(
        self, *, subject_id: str | None = None, taxonomy_id: str | None = None, limit: int = 200
    ) -> list[LabelRecord]: ...
    def labels_for_subjects(
        self, subjects: Sequence[tuple[str, str]], *, taxonomy_id: str | None = None
    ) -> list[LabelRecord]: ...
    def financings_of(self, financier_id: str, status: str) -> list[Financing]: ...

    # journal and idempotency
    def digest_seen(self, command_digest: str) -> bool: ...
    def append_event(self, event: EventRecord) -> None: ...
    def get_answer(self, party_id: str, key: str) -> StoredAnswer | None: ...
    def put_answer(self, party_id: str, key: str, answer: StoredAnswer, at: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PendingEvent:
    seq: int
    leaf: bytes


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    size: int
    root: bytes
    note: str
    signed_at: str


class TreeRepository(Protocol):
    """The Merkle tree over integrated events (full-subtree hashes), its head and its checkpoints."""

    def lock_state(self) -> tuple[int, bytes]: ...
    def set_state(self, size: int, root: bytes) -> None: ...
    def pending(self, limit: int) -> list[PendingEvent]: ...
    def assign_indexes(self, seqs: Sequence[int], first_index: int) -> None: ...
    def put_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None: ...
    def get(self, level: int, index: int) -> bytes: ...
    def get_many(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]: ...
    def latest_checkpoint(self) -> CheckpointRecord | None: ...
    def checkpoint(self, size: int) -> CheckpointRecord | None: ...
    def add_checkpoint(self, record: CheckpointRecord) -> None: ...
    def cosignature_lines(self, size: int) -> list[str]: ...
    def add_cosignature(self, size: int, witness_id: str, line: str, timestamp: int) -> None: ...
    def leaves(self, start: int, end: int) -> list[tuple[int, str, bytes]]: ...
    def leaf_of(self, event_id: str) -> tuple[int, bytes] | None: ...
    def concerned(self, event_ids: Sequence[str], party_id: str) -> set[str]: ...


class UnitOfWork(Protocol):
    @property
    def repo(self) -> Repository: ...
    @property
    def tree(self) -> TreeRepository: ...

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def savepoint(self) -> AbstractContextManager[None]: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A unit of work; ``read_only`` ones never write and, on SQLite, take no write lock."""
        ...
