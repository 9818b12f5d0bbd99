"""The financing workflow service: drives a case through the steps that need the outside world.

Each step asks an outside service through its port, keeps what it produced, then submits the party's signed
command that records it (see ``tierflow.services.financing_handlers``):

- ``contract``: renders the contract PDF from the financing's terms (the same terms give the same bytes);
- ``sign``: the applicant signs that PDF, the institution countersigns the applicant's file (PAdES, through
  the e-signature port); both signatures are verified against the trusted roots before the command goes in;
- ``register``: searches the financing registry for earlier registrations of the same receivable and
  registers the assignment; the registry's number goes into the command;
- ``disburse``: builds the ``pain.001`` credit transfer of the net proceeds to the applicant's account,
  validates it against the XSD, hands it to the bank gateway and records the bank's reference;
- ``reconcile``: reads a ``camt.054`` notification and records each credit whose end-to-end id names a
  disbursed financing of this institution as a repayment (an entry already recorded is skipped);
- ``sweep_overdue``: marks disbursed cases unpaid after maturity as overdue (the operator's signature).

A party acts through ``Acting``: who it is, which of its people, and how to sign and submit a command as it
(the portal signs with the party's custodial key; an API client signs its own commands and uses the
``prepare_*`` calls, which do the outside work and return what to sign).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tierflow.domain.errors import DomainError, InvalidTransition, NotAuthorised
from tierflow.domain.financing_case import POST_LOAN, Stage, outstanding_minor
from tierflow.domain.model import Financing, FinancingStatus, Party, Role
from tierflow.domain.money import Money
from tierflow.services.errors import ExternalRefusal, InvalidCommand, NotFound
from tierflow.services.external import (
    BankGateway,
    ContractRenderer,
    ContractTerms,
    ESignatureProvider,
    ExternalServiceError,
    FinancingRegistry,
    PaymentMessages,
    RegistrationRequest,
    SignatureCheck,
)
from tierflow.services.payment_data import Account, CreditTransfer, NotificationEntry
from tierflow.services.ports import CaseFile, CaseRecord, UnitOfWorkFactory

Submit = Callable[[str, dict[str, Any]], Mapping[str, Any]]

PDF = "application/pdf"
XML = "application/xml"


@dataclass(frozen=True, slots=True)
class Acting:
    """A party acting on a case: ``user`` names the person (the maker or checker), ``submit`` signs and submits a
    command as the party and returns its effects."""

    party_id: str
    user: str | None
    submit: Submit


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What a ``camt.054`` import did, entry by entry."""

    recorded: list[dict[str, Any]]
    skipped: list[dict[str, Any]]  # already recorded, debits, reversals
    unmatched: list[dict[str, Any]]  # credits that name no disbursed financing of this institution

    def as_json(self) -> dict[str, Any]:
        return {"recorded": self.recorded, "skipped": self.skipped, "unmatched": self.unmatched}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def contract_number(financing_id: str) -> str:
    return "FC-" + financing_id.removeprefix("fin_")[:32]


class FinancingCaseService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        render_contract: ContractRenderer,
        esign: ESignatureProvider,
        registry: FinancingRegistry,
        bank: BankGateway,
        messages: PaymentMessages,
        clock: Callable[[], datetime],
    ) -> None:
        self._uow = uow
        self._render = render_contract
        self._esign = esign
        self._registry = registry
        self._bank = bank
        self._messages = messages
        self._clock = clock

    # --- reading -------------------------------------------------------------------------------------

    def _load(self, viewer: Party, financing_id: str) -> tuple[Financing, CaseRecord]:
        with self._uow(read_only=True) as uow:
            financing = uow.repo.get_financing(financing_id)
            case = uow.repo.get_case(financing_id)
        visible = financing is not None and (
            viewer.id in (financing.applicant, financing.financier) or viewer.role is Role.OPERATOR
        )
        if financing is None or case is None or not visible:
            raise NotFound(f"No financing case {financing_id!r} visible to you.", financing_id=financing_id)
        return financing, case

    def case(self, viewer: Party, financing_id: str) -> dict[str, Any]:
        """The case as the applicant, the institution or the operator sees it: stage, people, verdict,
        contract, registration, payment, repayments, files and the steps so far."""
        financing, case = self._load(viewer, financing_id)
        with self._uow(read_only=True) as uow:
            repo = uow.repo
            verification = repo.verification(case.verification_id) if case.verification_id else None
            steps = repo.case_steps(financing_id)
            repayments = repo.repayments_of(financing_id)
            files = repo.files_of(financing_id)
        currency = financing.currency
        return {
            "financing_id": financing.id,
            "stage": case.stage,
            "status": financing.status.value,
            "recourse": case.recourse,
            "applicant": financing.applicant,
            "financier": financing.financier,
            "amount": Money(financing.amount_minor, currency).to_str(),
            "net": Money(financing.net_minor, currency).to_str(),
            "currency": currency,
            "maturity": financing.maturity.isoformat(),
            "maker": case.maker,
            "recommendation": case.recommendation,
            "checker": case.checker,
            "contract_number": case.contract_number,
            "contract_sha256": case.contract_sha256,
            "registry_number": case.registry_number,
            "payment_message_id": case.payment_message_id,
            "payment_sha256": case.payment_sha256,
            "bank_reference": case.bank_reference,
            "repaid": Money(case.repaid_minor, currency).to_str(),
            "outstanding": Money(outstanding_minor(financing.amount_minor, case.repaid_minor), currency).to_str()
            if Stage(case.stage) in (*POST_LOAN, Stage.CLOSED)
            else None,
            "verification": _verification_json(verification) if verification else None,
            "repayments": [
                {
                    "entry_ref": r.entry_ref,
                    "amount": Money(r.amount_minor, r.currency).to_str(),
                    "booking_date": r.booking_date.isoformat(),
                    "payer": r.payer,
                }
                for r in repayments
            ],
            "files": [
                {"sha256": f.sha256, "kind": f.kind, "media_type": f.media_type, "created_at": f.created_at}
                for f in files
            ],
            "steps": [
                {
                    "event_id": event_id,
                    "stage": s.stage,
                    "actor": s.actor_id,
                    "user": s.user_name,
                    "note": s.note,
                    "at": s.at,
                }
                for event_id, s in steps
            ],
        }

    def file(self, viewer: Party, financing_id: str, sha256: str) -> tuple[str, bytes]:
        """A file of the case (media type and bytes), for its parties and the operator."""
        self._load(viewer, financing_id)
        with self._uow(read_only=True) as uow:
            found = uow.repo.get_file(sha256)
        if found is None or found.financing_id != financing_id:
            raise NotFound(f"No file {sha256} in financing {financing_id}.", sha256=sha256)
        return found.media_type, found.content

    def reminders(self, viewer: Party, *, within_days: int = 30) -> list[dict[str, Any]]:
        """The institution's disbursed financings that mature within ``within_days`` or are already past due."""
        today = self._clock().date()
        with self._uow(read_only=True) as uow:
            repo = uow.repo
            due = repo.cases_due(viewer.id, today + timedelta(days=within_days))
        return [
            {
                "financing_id": financing.id,
                "stage": case.stage,
                "maturity": financing.maturity.isoformat(),
                "days_left": (financing.maturity - today).days,
                "outstanding": Money(
                    outstanding_minor(financing.amount_minor, case.repaid_minor), financing.currency
                ).to_str(),
                "currency": financing.currency,
            }
            for financing, case in due
        ]

    # --- the contract --------------------------------------------------------------------------------

    def contract_terms(self, financing: Financing, case: CaseRecord) -> ContractTerms:
        with self._uow(read_only=True) as uow:
            repo = uow.repo
            voucher = repo.get_voucher(financing.voucher_id)
            applicant = repo.get_party(financing.applicant)
            financier = repo.get_party(financing.financier)
            holding = repo.get_holding(financing.holding_id)
            obligor = repo.get_party(voucher.obligor) if voucher else None
            verification = repo.verification(case.verification_id) if case.verification_id else None
        assert voucher and applicant and financier and holding and obligor
        claimed = json.loads(verification.documents) if verification else []
        invoices = tuple(d["number"] for d in claimed if d["type"] == "vat_invoice")
        contracts = [d["number"] for d in claimed if d["type"] == "contract"]

        def money(minor: int) -> str:
            return Money(minor, financing.currency).to_str()

        return ContractTerms(
            contract_number=contract_number(financing.id),
            financing_id=financing.id,
            applicant_id=applicant.id,
            applicant_name=applicant.name,
            financier_id=financier.id,
            financier_name=financier.name,
            obligor_id=obligor.id,
            obligor_name=obligor.name,
            voucher_id=voucher.id,
            unit_range=f"{holding.units.start}-{holding.units.end}",
            currency=financing.currency,
            amount=money(financing.amount_minor),
            discount=money(financing.discount_minor),
            fee=money(financing.fee_minor),
            net=money(financing.net_minor),
            annual_rate=str(financing.annual_rate),
            basis=financing.basis.value,
            value_date=financing.value_date,
            maturity=financing.maturity,
            recourse=case.recourse,
            invoice_numbers=invoices or tuple(voucher.invoice_refs),
            trade_contract=contracts[0] if contracts else voucher.contract_ref,
            generated_on=financing.value_date,
        )

    def contract_draft(self, viewer: Party, financing_id: str) -> bytes:
        """The unsigned contract, once the institution has approved the financing."""
        financing, case = self._load(viewer, financing_id)
        if Stage(case.stage) in (Stage.COLLECTED, Stage.VERIFIED, Stage.REVIEWED, Stage.REJECTED):
            raise InvalidTransition(
                f"financing {financing_id} is {case.stage}; the contract is drawn up once it is approved",
                financing_id=financing_id,
            )
        pdf = self._render(self.contract_terms(financing, case))
        self._keep(financing_id, "contract_draft", PDF, pdf)
        return pdf

    def check_signed_contract(self, viewer: Party, financing_id: str, pdf: bytes) -> list[SignatureCheck]:
        """Verify an uploaded signed contract: every signature intact, valid and trusted, the last one covering the
        whole file, one signature by the applicant and (for the countersigned file) one by the institution.
        The file is kept; the caller then signs ``financing.sign`` with its hash."""
        financing, case = self._load(viewer, financing_id)
        try:
            checks = self._esign.verify(pdf)
        except ExternalServiceError as exc:
            raise ExternalRefusal(f"The signed contract cannot be read: {exc}", service_code=exc.code) from None
        by_applicant = viewer.id == financing.applicant
        wanted = {financing.applicant} if by_applicant else {financing.applicant, financing.financier}
        problems = [
            f"signature {c.field_name} by {c.signer} does not verify"
            for c in checks
            if not (c.intact and c.valid and c.trusted)
        ]
        if checks and not checks[-1].covers_whole_file:
            problems.append("something was added to the file after its last signature")
        signers = {c.signer_party for c in checks}
        if signers != wanted:
            problems.append(f"the file is signed by {sorted(signers) or 'nobody'}, not by {sorted(wanted)}")
        if problems:
            raise ExternalRefusal("The signed contract does not hold: " + "; ".join(problems), problems=problems)
        del case
        self._keep(financing_id, "contract_applicant" if by_applicant else "contract_signed", PDF, pdf)
        return checks

    def sign(self, acting: Acting, financing_id: str) -> Mapping[str, Any]:
        """Sign the contract through the e-signature provider as the acting party (the applicant signs the
        draft, the institution the applicant's signed file), check it, keep it, and record it."""
        viewer = self._party(acting.party_id)
        financing, case = self._load(viewer, financing_id)
        if acting.party_id == financing.applicant:
            base, field_name = self.contract_draft(viewer, financing_id), "applicant"
        elif acting.party_id == financing.financier:
            if case.contract_sha256 is None or Stage(case.stage) is not Stage.SIGNED_BY_APPLICANT:
                raise InvalidTransition(
                    f"financing {financing_id} is {case.stage}; the institution countersigns after the applicant",
                    financing_id=financing_id,
                )
            base = self._file_bytes(case.contract_sha256)
            field_name = "financial_institution"
        else:
            raise NotAuthorised("Only the applicant and the institution sign the financing contract.")
        try:
            signed = self._esign.sign(
                base,
                party_id=viewer.id,
                party_name=viewer.name,
                field_name=field_name,
                reason=f"Financing contract {contract_number(financing_id)}",
            )
        except ExternalServiceError as exc:
            raise ExternalRefusal(f"The e-signature service refused: {exc}", service_code=exc.code) from None
        self.check_signed_contract(viewer, financing_id, signed)
        body: dict[str, Any] = {
            "financing_id": financing_id,
            "contract_number": contract_number(financing_id),
            "contract_sha256": sha256_hex(signed),
        }
        if acting.user and acting.party_id == financing.financier:
            body["user"] = acting.user
        return acting.submit("financing.sign", body)

    # --- registration --------------------------------------------------------------------------------

    def collateral_id(self, financing: Financing) -> str:
        with self._uow(read_only=True) as uow:
            holding = uow.repo.get_holding(financing.holding_id)
        assert holding is not None
        return f"{financing.voucher_id}:{holding.units.start}-{holding.units.end}"

    def register(self, acting: Acting, financing_id: str) -> Mapping[str, Any]:
        """Register the assignment with the financing registry (refused when another institution registered the
        same receivable first) and record the registration number."""
        viewer = self._party(acting.party_id)
        financing, case = self._load(viewer, financing_id)
        if acting.party_id != financing.financier:
            raise NotAuthorised("The financial institution registers the assignment.")
        if Stage(case.stage) is not Stage.CONTRACTED:
            raise InvalidTransition(
                f"financing {financing_id} is {case.stage}; it is registered once the contract is signed",
                financing_id=financing_id,
            )
        applicant = self._party(financing.applicant)
        request = RegistrationRequest(
            pledgor_name=applicant.name,
            pledgor_id=applicant.id,
            pledgee_name=viewer.name,
            pledgee_id=viewer.id,
            collateral_id=self.collateral_id(financing),
            description=f"Receivable {financing.voucher_id} assigned under contract {contract_number(financing_id)}",
            amount_minor=financing.amount_minor,
            currency=financing.currency,
            period_end=financing.maturity + timedelta(days=365),
        )
        try:
            registration = self._registry.register(request)
        except ExternalServiceError as exc:
            raise ExternalRefusal(f"The financing registry refused: {exc}", service_code=exc.code) from None
        body: dict[str, Any] = {"financing_id": financing_id, "registry_number": registration.number}
        if acting.user:
            body["user"] = acting.user
        return acting.submit("financing.register", body)

    # --- disbursement --------------------------------------------------------------------------------

    def prepare_payment(self, viewer: Party, financing_id: str, *, debtor: Account, creditor: Account) -> bytes:
        """The ``pain.001`` paying the net proceeds from the institution's account to the applicant's, validated
        against the official XSD and kept with the case."""
        financing, case = self._load(viewer, financing_id)
        if viewer.id != financing.financier:
            raise NotAuthorised("The financial institution pays out the financing.")
        if Stage(case.stage) is not Stage.REGISTERED:
            raise InvalidTransition(
                f"financing {financing_id} is {case.stage}; the money goes out once the assignment is registered",
                financing_id=financing_id,
            )
        now = self._clock()
        transfer = CreditTransfer(
            end_to_end_id=financing.id[:35],
            amount_minor=financing.net_minor,
            currency=financing.currency,
            creditor=creditor,
            remittance=f"Financing {financing.id} contract {contract_number(financing.id)}"[:140],
        )
        xml = self._messages.build_pain001(
            message_id=payment_message_id(financing.id),
            created_at=now.replace(microsecond=0),
            debtor=debtor,
            payment_info_id=("PI-" + financing.id)[:35],
            requested_date=now.date(),
            transfers=[transfer],
            initiating_party=viewer.name,
        )
        self._messages.validate_pain001(xml)
        self._keep(financing_id, "pain001", XML, xml)
        return xml

    def disburse(self, acting: Acting, financing_id: str, *, debtor: Account, creditor: Account) -> Mapping[str, Any]:
        """Pay out: build and validate the ``pain.001``, submit it to the bank, and record the bank's answer."""
        viewer = self._party(acting.party_id)
        xml = self.prepare_payment(viewer, financing_id, debtor=debtor, creditor=creditor)
        status = self._bank.submit_pain001(xml)
        if not status.accepted:
            raise ExternalRefusal(f"The bank refused the payment: {status.detail}", message_id=status.message_id)
        body: dict[str, Any] = {
            "financing_id": financing_id,
            "payment_message_id": status.message_id,
            "payment_sha256": sha256_hex(xml),
            "bank_reference": status.bank_reference,
        }
        if acting.user:
            body["user"] = acting.user
        return acting.submit("financing.fund", body)

    # --- post-loan -----------------------------------------------------------------------------------

    def plan_reconciliation(self, viewer: Party, camt054: bytes) -> tuple[list[dict[str, Any]], Reconciliation]:
        """Read a ``camt.054`` on the institution's account and match its credits to disbursed financings.

        Returns the ``financing.repay`` bodies to sign (one per matched entry) and the report of what was skipped
        (debits, reversals, entries already recorded) or left unmatched. Nothing is recorded yet."""
        if viewer.role is not Role.FINANCIER:
            raise NotAuthorised("Repayments are reconciled by the financial institution that received them.")
        try:
            entries = self._messages.parse_camt054(camt054)
        except ValueError as exc:
            raise InvalidCommand(f"The camt.054 notification cannot be read: {exc}") from None
        self._keep(None, "camt054", XML, camt054)
        plan: list[dict[str, Any]] = []
        report = Reconciliation([], [], [])
        for entry in entries:
            about: dict[str, Any] = {
                "entry_ref": entry.entry_ref,
                "amount": Money(entry.amount_minor, entry.currency).to_str(),
                "currency": entry.currency,
                "end_to_end_id": entry.end_to_end_id,
            }
            if not entry.credit or entry.reversal:
                report.skipped.append({**about, "reason": "a debit or a reversal, not a repayment"})
                continue
            with self._uow(read_only=True) as uow:
                earlier = uow.repo.repayment(entry.entry_ref)
            if earlier is not None:
                report.skipped.append({**about, "financing_id": earlier.financing_id, "reason": "already recorded"})
                continue
            financing_id = self._match(viewer, entry)
            if financing_id is None:
                report.unmatched.append({**about, "reason": "names no disbursed financing of yours"})
                continue
            body: dict[str, Any] = {
                "financing_id": financing_id,
                "entry_ref": entry.entry_ref,
                "amount": Money(entry.amount_minor, entry.currency).to_str(),
                "currency": entry.currency,
                "booking_date": entry.booking_date.isoformat(),
            }
            if entry.debtor_name:
                body["payer"] = entry.debtor_name[:140]
            plan.append(body)
        return plan, report

    def reconcile(self, acting: Acting, camt054: bytes) -> Reconciliation:
        """Record the repayments a ``camt.054`` reports on the institution's account (``plan_reconciliation``,
        then one signed ``financing.repay`` per matched entry; a refused one is reported as unmatched)."""
        plan, report = self.plan_reconciliation(self._party(acting.party_id), camt054)
        for body in plan:
            about = {k: body.get(k) for k in ("entry_ref", "amount", "currency", "financing_id")}
            try:
                effects = acting.submit("financing.repay", body)
            except DomainError as exc:
                report.unmatched.append({**about, "reason": exc.message, "code": exc.code})
                continue
            report.recorded.append({**about, "stage": effects.get("stage")})
        return report

    def _match(self, viewer: Party, entry: NotificationEntry) -> str | None:
        """The financing an entry repays: its end-to-end id, else a financing id in the remittance text."""
        candidates = [entry.end_to_end_id] if entry.end_to_end_id else []
        candidates += [w.strip(".,;:") for w in (entry.remittance or "").split() if w.startswith("fin_")]
        with self._uow(read_only=True) as uow:
            for candidate in candidates:
                financing = uow.repo.get_financing(candidate)
                case = uow.repo.get_case(candidate) if financing else None
                if (
                    financing is not None
                    and case is not None
                    and financing.financier == viewer.id
                    and financing.status is FinancingStatus.FUNDED
                    and Stage(case.stage) in POST_LOAN
                ):
                    return financing.id
        return None

    def sweep_overdue(self, operator: Acting, *, limit: int = 500) -> list[str]:
        """Mark overdue every disbursed case unpaid after its maturity (run by the platform operator)."""
        today = self._clock().date()
        with self._uow(read_only=True) as uow:
            due = uow.repo.cases_due(None, today - timedelta(days=1), stages=(Stage.DISBURSED.value,), limit=limit)
        marked: list[str] = []
        for financing, case in due:
            if outstanding_minor(financing.amount_minor, case.repaid_minor) > 0 and financing.maturity < today:
                try:
                    operator.submit("financing.overdue", {"financing_id": financing.id})
                except DomainError:  # repaid or moved on meanwhile; the next sweep looks again
                    continue
                marked.append(financing.id)
        return marked

    # --- helpers -------------------------------------------------------------------------------------

    def _party(self, party_id: str) -> Party:
        with self._uow(read_only=True) as uow:
            party = uow.repo.get_party(party_id)
        if party is None:
            raise NotFound(f"No party {party_id!r}.", party=party_id)
        return party

    def _keep(self, financing_id: str | None, kind: str, media_type: str, content: bytes) -> str:
        digest = sha256_hex(content)
        at = self._clock().isoformat().replace("+00:00", "Z")
        with self._uow() as uow:
            uow.repo.put_file(CaseFile(digest, financing_id, kind, media_type, content, at))
            uow.commit()
        return digest

    def _file_bytes(self, sha256: str) -> bytes:
        with self._uow(read_only=True) as uow:
            found = uow.repo.get_file(sha256)
        if found is None:
            raise NotFound(f"The file {sha256} is not kept on this platform.", sha256=sha256)
        return found.content


def payment_message_id(financing_id: str) -> str:
    """The ``pain.001`` MsgId of a financing's disbursement (at most 35 characters, unique per financing)."""
    return ("DSB-" + financing_id.removeprefix("fin_"))[:35]


def _verification_json(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "outcome": record.outcome,
        "ruleset": record.ruleset.split(","),
        "results": json.loads(record.results),
        "documents": json.loads(record.documents),
    }
