"""ISO 20022 payment messages: ``pain.001`` credit-transfer initiations and ``camt.054`` notifications.

What goes out to a bank is a ``pain.001.001.09`` (CustomerCreditTransferInitiationV09); what comes back is
a ``camt.054`` (BankToCustomerDebitCreditNotification), which tells the platform that a financing was paid
out or that a repayment arrived. The design choices:

- Amounts are ``int`` minor units. The decimal text of the XML is derived from the currency's exponent
  (``tierflow.domain.money``) and read back with exact string arithmetic; floats never appear, a CNY amount
  with three decimals is refused, and control sums are exact.
- Accounts are Chinese domestic accounts: no IBAN, so the number goes in ``Othr/Id``; banks are identified
  by their 12-digit CNAPS code in ``ClrSysMmbId``, with the clearing system given as ``Cd`` ``CNAPS`` from
  the ISO external code list ``ExternalClearingSystemIdentification1Code``.
- The official XSDs are vendored in ``schemas/`` (see its README) and loaded once through
  ``importlib.resources``, so validation also works from an installed wheel. Builders validate their own
  output before returning it, and produce the same bytes for the same input (UTF-8, XML declaration).
- Received XML is untrusted: it is parsed with entity resolution, DTD loading and network access off, no
  huge-tree mode and a size cap, and any DOCTYPE is refused outright. Every malformation raises
  ``Iso20022Error`` (a ``ValueError``) with a message that says what and where.
- ``parse_pain001`` reads a ``pain.001`` back the way a bank checks it: schema first, then the declared
  NbOfTxs and CtrlSum against the transactions and each amount against its currency's decimals.
- ``parse_camt054`` reads ``camt.054.001.02`` to ``.08``; the ``.08`` version is also schema-validated. It
  returns one ``NotificationEntry`` per transaction (``TxDtls``), booked entries only: a pending entry is
  not money on the account yet. A transaction without an amount of its own takes the entry's, which is
  refused when the entry holds several transactions (the split would be a guess).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from lxml import etree

from tierflow.domain.errors import UnknownCurrency
from tierflow.domain.money import exponent
from tierflow.services.payment_data import (
    Account,
    CreditTransfer,
    NotificationEntry,
    PaymentOrder,
    check_minor,
    check_text,
    currency_exponent,
)

PAIN001_NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
CAMT054_NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
CAMT054_NAMESPACES = frozenset(f"urn:iso:std:iso:20022:tech:xsd:camt.054.001.0{n}" for n in range(2, 9))

CLEARING_SYSTEM = "CNAPS"  # ExternalClearingSystemIdentification1Code: China National Advanced Payment System
MAX_PAIN001_BYTES = 20 * 1024 * 1024
_MAX_AMOUNT_DIGITS = 18  # totalDigits of ActiveOrHistoricCurrencyAndAmount

_DECIMAL = re.compile(r"\+?([0-9]*)(?:\.([0-9]*))?")
_DOCTYPE_MARKERS = tuple("<!DOCTYPE".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


class Iso20022Error(ValueError):
    """A message is malformed or does not conform to its schema; ``errors`` lists the schema errors."""

    def __init__(self, message: str, *, errors: Sequence[str] = (), message_id: str | None = None) -> None:
        super().__init__(message)
        self.errors = tuple(errors)
        self.message_id = message_id  # the document's GrpHdr/MsgId, when it could be read


# --- amounts ---------------------------------------------------------------------------------------------


def format_amount(amount_minor: int, currency: str) -> str:
    """Decimal text of a non-negative amount: ``(1, "CNY")`` → ``"0.01"``, ``(5, "JPY")`` → ``"5"``."""
    exp = currency_exponent(currency)
    check_minor("amount", amount_minor, positive=False)
    digits = str(amount_minor).rjust(exp + 1, "0")
    return digits if exp == 0 else f"{digits[:-exp]}.{digits[-exp:]}"


def parse_amount(text: str, currency: str) -> int:
    """Minor units of a decimal amount; refuses signs, exponents and more decimals than ``currency`` has."""
    try:
        exp = exponent(currency)
    except UnknownCurrency:
        raise Iso20022Error(f"unknown currency {currency!r}") from None
    stripped = text.strip()
    if stripped.startswith("-"):
        raise Iso20022Error(f"negative amount {text!r}")
    match = _DECIMAL.fullmatch(stripped)
    if match is None or not (match.group(1) or match.group(2)):
        raise Iso20022Error(f"not a decimal amount: {text!r}")
    whole, frac = match.group(1) or "0", match.group(2) or ""
    if len(frac) > exp:
        raise Iso20022Error(f"{currency} has {exp} decimal places; amount {text!r} has {len(frac)}")
    if len(whole.lstrip("0")) + exp > _MAX_AMOUNT_DIGITS:
        raise Iso20022Error(f"amount {text!r} has more than {_MAX_AMOUNT_DIGITS} digits")
    return int(whole + frac.ljust(exp, "0"))


# --- XML plumbing ----------------------------------------------------------------------------------------


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    """Append ``tag`` (in the parent's namespace) to ``parent``."""
    child = etree.SubElement(parent, f"{{{etree.QName(parent).namespace}}}{tag}", attrib)
    if text is not None:
        child.text = text
    return child


def _default_ns(namespace: str) -> Any:
    return {None: namespace}  # the stubs type nsmap keys as str; None declares the default namespace


def _serialize(root: etree._Element) -> bytes:
    return _XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)


def _parse_untrusted(xml: bytes, *, max_bytes: int, what: str) -> etree._Element:
    """Parse bytes from outside: no entities, no DTD, no network, no DOCTYPE at all, bounded size."""
    if not isinstance(xml, bytes):
        raise Iso20022Error(f"{what} must be bytes; got {type(xml).__name__}")
    if len(xml) > max_bytes:
        raise Iso20022Error(f"{what} is {len(xml)} bytes; the limit is {max_bytes}")
    if any(marker in xml for marker in _DOCTYPE_MARKERS):  # refused before libxml2 reads any entity
        raise Iso20022Error(f"{what} carries a DOCTYPE; documents with a DTD are refused")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        remove_comments=True,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise Iso20022Error(f"{what} is not well-formed XML: {exc}") from None
    # Checked again after parsing, for an encoding the scan above does not cover (the stubs lack these names).
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise Iso20022Error(f"{what} carries a DOCTYPE; documents with a DTD are refused")
    return root


@functools.cache
def _schema(name: str) -> etree.XMLSchema:
    data = resources.files("tierflow.integrations").joinpath("schemas").joinpath(name).read_bytes()
    return etree.XMLSchema(etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True)))


_SCHEMA_LOCK = threading.Lock()  # an XMLSchema keeps its error log on itself
_LISTED_ERRORS = 10  # in the exception's message; ``errors`` has them all


def _message_id_of(root: etree._Element) -> str | None:
    found = root.xpath("string(/*/*/*[local-name()='GrpHdr']/*[local-name()='MsgId'])")
    if not isinstance(found, str):
        return None
    return found.strip() or None


def _validate(root: etree._Element, schema_file: str, what: str) -> None:
    schema = _schema(schema_file)
    with _SCHEMA_LOCK:
        valid = schema.validate(root.getroottree())
        log: Iterable[Any] = schema.error_log  # type: ignore[assignment]  # iterable at run time
        errors = [f"line {e.line}: {e.message}" for e in log]
    if not valid:
        raise Iso20022Error(
            f"{what} does not conform to its schema: "
            + "; ".join(errors[:_LISTED_ERRORS])
            + (f"; and {len(errors) - _LISTED_ERRORS} more" if len(errors) > _LISTED_ERRORS else ""),
            errors=errors,
            message_id=_message_id_of(root),
        )


def _check_root(root: etree._Element, namespace: str, what: str) -> None:
    qname = etree.QName(root)
    if qname.localname != "Document" or qname.namespace != namespace:
        raise Iso20022Error(
            f"expected a {what} Document ({namespace}); got {root.tag!r}", message_id=_message_id_of(root)
        )


def _agent(parent: etree._Element, tag: str, account: Account) -> None:
    fin = _sub(_sub(parent, tag), "FinInstnId")
    member = _sub(fin, "ClrSysMmbId")
    _sub(_sub(member, "ClrSysId"), "Cd", CLEARING_SYSTEM)
    _sub(member, "MmbId", account.bank_code)
    if account.bank_name:
        _sub(fin, "Nm", account.bank_name)


def _account_id(parent: etree._Element, tag: str, number: str) -> etree._Element:
    acct = _sub(parent, tag)
    _sub(_sub(_sub(acct, "Id"), "Othr"), "Id", number)
    return acct


# --- pain.001 --------------------------------------------------------------------------------------------


def build_pain001(
    *,
    message_id: str,
    created_at: datetime,
    debtor: Account,
    payment_info_id: str,
    requested_date: date,
    transfers: Sequence[CreditTransfer],
    initiating_party: str,
) -> bytes:
    """A ``pain.001.001.09`` Document with one payment information block; raises ValueError on bad input."""
    check_text("message id", message_id, 35)
    check_text("payment information id", payment_info_id, 35)
    check_text("initiating party", initiating_party, 140)
    if not isinstance(created_at, datetime):
        raise ValueError(f"created_at must be a datetime; got {created_at!r}")
    if not isinstance(requested_date, date) or isinstance(requested_date, datetime):
        raise ValueError(f"requested_date must be a date; got {requested_date!r}")
    if not isinstance(debtor, Account):
        raise ValueError(f"debtor must be an Account; got {debtor!r}")
    if not transfers:
        raise ValueError("a payment message needs at least one transfer")
    currencies = sorted({t.currency for t in transfers})
    if len(currencies) > 1:
        raise ValueError(f"one payment message carries one currency; got {', '.join(currencies)}")
    seen: set[str] = set()
    for t in transfers:
        if t.end_to_end_id in seen:
            raise ValueError(f"end-to-end id {t.end_to_end_id!r} appears twice in one message")
        seen.add(t.end_to_end_id)
    currency = currencies[0]
    count = str(len(transfers))
    control_sum = format_amount(sum(t.amount_minor for t in transfers), currency)

    root = etree.Element(f"{{{PAIN001_NS}}}Document", nsmap=_default_ns(PAIN001_NS))
    initiation = _sub(root, "CstmrCdtTrfInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", created_at.isoformat(timespec="seconds"))
    _sub(header, "NbOfTxs", count)
    _sub(header, "CtrlSum", control_sum)
    _sub(_sub(header, "InitgPty"), "Nm", initiating_party)

    info = _sub(initiation, "PmtInf")
    _sub(info, "PmtInfId", payment_info_id)
    _sub(info, "PmtMtd", "TRF")
    _sub(info, "NbOfTxs", count)
    _sub(info, "CtrlSum", control_sum)
    _sub(_sub(info, "ReqdExctnDt"), "Dt", requested_date.isoformat())
    _sub(_sub(info, "Dbtr"), "Nm", debtor.name)
    _account_id(info, "DbtrAcct", debtor.number)
    _agent(info, "DbtrAgt", debtor)
    for t in transfers:
        tx = _sub(info, "CdtTrfTxInf")
        _sub(_sub(tx, "PmtId"), "EndToEndId", t.end_to_end_id)
        _sub(_sub(tx, "Amt"), "InstdAmt", format_amount(t.amount_minor, t.currency), Ccy=t.currency)
        _agent(tx, "CdtrAgt", t.creditor)
        _sub(_sub(tx, "Cdtr"), "Nm", t.creditor.name)
        _account_id(tx, "CdtrAcct", t.creditor.number)
        if t.remittance:
            _sub(_sub(tx, "RmtInf"), "Ustrd", t.remittance)
    _validate(root, "pain.001.001.09.xsd", "pain.001")
    return _serialize(root)


def _valid_pain001(xml: bytes) -> etree._Element:
    root = _parse_untrusted(xml, max_bytes=MAX_PAIN001_BYTES, what="pain.001")
    _check_root(root, PAIN001_NS, "pain.001.001.09")
    _validate(root, "pain.001.001.09.xsd", "pain.001")
    return root


def validate_pain001(xml: bytes) -> None:
    """Check ``xml`` against the official pain.001.001.09 XSD; raises Iso20022Error listing the errors."""
    _valid_pain001(xml)


class _Reader:
    """Namespace-aware lookups that turn a missing element into an Iso20022Error saying where."""

    def __init__(self, namespace: str, what: str, message_id: str | None = None) -> None:
        self.ns = {"d": namespace}
        self.what = what
        self.message_id = message_id

    def _path(self, path: str) -> str:
        return "/".join(f"d:{step}" for step in path.split("/"))

    def find(self, el: etree._Element, path: str) -> etree._Element | None:
        return el.find(self._path(path), self.ns)

    def findall(self, el: etree._Element, path: str) -> list[etree._Element]:
        return list(el.iterfind(self._path(path), self.ns))

    def text(self, el: etree._Element, path: str) -> str | None:
        found = self.find(el, path)
        if found is None or found.text is None or not found.text.strip():
            return None
        return found.text.strip()

    def need(self, el: etree._Element, path: str) -> etree._Element:
        found = self.find(el, path)
        if found is None:
            raise self.error(el, f"missing {path}")
        return found

    def need_text(self, el: etree._Element, path: str) -> str:
        value = self.text(el, path)
        if value is None:
            raise self.error(el, f"missing {path}")
        return value

    def error(self, el: etree._Element, message: str) -> Iso20022Error:
        where = f"{etree.QName(el).localname} at line {el.sourceline}"
        return Iso20022Error(f"{self.what}: {where}: {message}", message_id=self.message_id)

    def amount(self, el: etree._Element) -> tuple[int, str]:
        currency = el.get("Ccy")
        if not currency:
            raise self.error(el, "amount without a Ccy attribute")
        try:
            return parse_amount(el.text or "", currency), currency
        except Iso20022Error as exc:
            raise self.error(el, str(exc)) from None

    def date(self, el: etree._Element, path: str) -> date | None:
        """A DateAndDateTimeChoice: ``Dt``, or the date part of ``DtTm``."""
        choice = self.find(el, path)
        if choice is None:
            return None
        try:
            if (day := self.text(choice, "Dt")) is not None:
                return date.fromisoformat(day)
            if (moment := self.text(choice, "DtTm")) is not None:
                return datetime.fromisoformat(moment).date()
        except ValueError:
            raise self.error(choice, "not an ISO date") from None
        raise self.error(choice, "neither Dt nor DtTm")


def _read_account(
    reader: _Reader, party: etree._Element | None, acct: etree._Element, agent: etree._Element
) -> Account:
    if reader.find(acct, "Id/IBAN") is not None:
        raise reader.error(acct, "IBAN accounts are not used by this gateway; expected Id/Othr/Id")
    number = reader.need_text(acct, "Id/Othr/Id")
    bank_code = reader.need_text(agent, "FinInstnId/ClrSysMmbId/MmbId")
    name = reader.text(party, "Nm") if party is not None else None
    try:
        return Account(number, name or "", bank_code, reader.text(agent, "FinInstnId/Nm") or "")
    except ValueError as exc:
        raise reader.error(acct, str(exc)) from None


def parse_pain001(xml: bytes) -> PaymentOrder:
    """Read a schema-valid ``pain.001.001.09`` with one payment information block and consistent totals."""
    root = _valid_pain001(xml)
    r = _Reader(PAIN001_NS, "pain.001", _message_id_of(root))
    initiation = r.need(root, "CstmrCdtTrfInitn")
    header = r.need(initiation, "GrpHdr")
    infos = r.findall(initiation, "PmtInf")
    if len(infos) != 1:
        raise r.error(initiation, f"expected one PmtInf; got {len(infos)}")
    info = infos[0]
    if r.need_text(info, "PmtMtd") != "TRF":
        raise r.error(info, "only credit transfers (PmtMtd TRF) are accepted")
    debtor = _read_account(r, r.find(info, "Dbtr"), r.need(info, "DbtrAcct"), r.need(info, "DbtrAgt"))
    transfers: list[CreditTransfer] = []
    total = Decimal(0)
    for tx in r.findall(info, "CdtTrfTxInf"):
        amount_el = r.find(tx, "Amt/InstdAmt")
        if amount_el is None:
            raise r.error(tx, "only an instructed amount (Amt/InstdAmt) is accepted")
        amount, currency = r.amount(amount_el)
        total += Decimal(amount_el.text or "0")
        agent, acct = r.find(tx, "CdtrAgt"), r.find(tx, "CdtrAcct")
        if agent is None or acct is None:
            raise r.error(tx, "missing CdtrAgt or CdtrAcct")
        creditor = _read_account(r, r.find(tx, "Cdtr"), acct, agent)
        try:
            transfers.append(
                CreditTransfer(
                    r.need_text(tx, "PmtId/EndToEndId"),
                    amount,
                    currency,
                    creditor,
                    " ".join(u.text.strip() for u in r.findall(tx, "RmtInf/Ustrd") if u.text),
                )
            )
        except ValueError as exc:
            raise r.error(tx, str(exc)) from None
    for block in (header, info):
        declared = r.text(block, "NbOfTxs")
        if declared is not None and int(declared) != len(transfers):
            raise r.error(block, f"NbOfTxs is {declared} but the message holds {len(transfers)} transactions")
        control = r.text(block, "CtrlSum")
        if control is not None and Decimal(control) != total:
            raise r.error(block, f"CtrlSum is {control} but the amounts add up to {total}")
    try:
        created_at = datetime.fromisoformat(r.need_text(header, "CreDtTm"))
    except ValueError:
        raise r.error(header, "CreDtTm is not an ISO date-time") from None
    requested = r.date(info, "ReqdExctnDt")
    assert requested is not None  # required by the schema
    return PaymentOrder(
        message_id=r.need_text(header, "MsgId"),
        created_at=created_at,
        initiating_party=r.text(header, "InitgPty/Nm") or "",
        payment_info_id=r.need_text(info, "PmtInfId"),
        requested_date=requested,
        debtor=debtor,
        transfers=tuple(transfers),
    )


# --- camt.054 --------------------------------------------------------------------------------------------


def _flag(r: _Reader, el: etree._Element, path: str) -> bool:
    value = r.text(el, path)
    if value is None or value in ("false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise r.error(el, f"{path} must be true or false; got {value!r}")


def _direction(r: _Reader, el: etree._Element, value: str) -> bool:
    if value not in ("CRDT", "DBIT"):
        raise r.error(el, f"CdtDbtInd must be CRDT or DBIT; got {value!r}")
    return value == "CRDT"


def parse_camt054(xml: bytes, *, max_bytes: int = 5 * 1024 * 1024) -> list[NotificationEntry]:
    """The booked transactions of a ``camt.054.001.02``–``.08`` notification, one per ``TxDtls``."""
    root = _parse_untrusted(xml, max_bytes=max_bytes, what="camt.054")
    qname = etree.QName(root)
    if qname.namespace not in CAMT054_NAMESPACES:
        raise Iso20022Error(
            f"camt.054: unsupported namespace {qname.namespace!r}; expected camt.054.001.02 to camt.054.001.08"
        )
    if qname.localname != "Document":
        raise Iso20022Error(f"camt.054: root element must be Document; got {qname.localname!r}")
    if qname.namespace == CAMT054_NS:
        _validate(root, "camt.054.001.08.xsd", "camt.054")
    r = _Reader(qname.namespace, "camt.054")
    body = r.need(root, "BkToCstmrDbtCdtNtfctn")
    entries: list[NotificationEntry] = []
    for notification in r.findall(body, "Ntfctn"):
        acct = r.need(notification, "Acct")
        account = r.text(acct, "Id/Othr/Id") or r.text(acct, "Id/IBAN")
        if account is None:
            raise r.error(acct, "missing Id/Othr/Id (or Id/IBAN)")
        for ntry in r.findall(notification, "Ntry"):
            entries.extend(_read_entry(r, ntry, account))
    return entries


def _read_entry(r: _Reader, ntry: etree._Element, account: str) -> list[NotificationEntry]:
    status_el = r.need(ntry, "Sts")
    status = r.text(status_el, "Cd") or r.text(status_el, "Prtry") or (status_el.text or "").strip()
    if status != "BOOK":
        return []
    amount, currency = r.amount(r.need(ntry, "Amt"))
    credit = _direction(r, ntry, r.need_text(ntry, "CdtDbtInd"))
    booking_date = r.date(ntry, "BookgDt")
    if booking_date is None:
        raise r.error(ntry, "booked entry without BookgDt")
    entry_ref = r.text(ntry, "AcctSvcrRef") or r.text(ntry, "NtryRef")
    if entry_ref is None:
        raise r.error(ntry, "entry has neither AcctSvcrRef nor NtryRef")
    value_date = r.date(ntry, "ValDt")
    reversal = _flag(r, ntry, "RvslInd")
    transactions = r.findall(ntry, "NtryDtls/TxDtls")
    if not transactions:
        try:
            return [
                NotificationEntry(
                    entry_ref, account, amount, currency, credit, booking_date, value_date, reversal=reversal
                )
            ]
        except ValueError as exc:
            raise r.error(ntry, str(exc)) from None
    result: list[NotificationEntry] = []
    for tx in transactions:
        tx_amount_el = r.find(tx, "Amt")
        if tx_amount_el is None:
            tx_amount_el = r.find(tx, "AmtDtls/TxAmt/Amt")
        if tx_amount_el is not None:
            tx_amount, tx_currency = r.amount(tx_amount_el)
        elif len(transactions) == 1:
            tx_amount, tx_currency = amount, currency
        else:
            raise r.error(tx, "one of several transactions of an entry gives no amount")
        tx_direction = r.text(tx, "CdtDbtInd")
        end_to_end_id = r.text(tx, "Refs/EndToEndId")
        remittance = " ".join(u.text.strip() for u in r.findall(tx, "RmtInf/Ustrd") if u.text and u.text.strip())
        try:
            result.append(
                NotificationEntry(
                    entry_ref=entry_ref,
                    account=account,
                    amount_minor=tx_amount,
                    currency=tx_currency,
                    credit=credit if tx_direction is None else _direction(r, tx, tx_direction),
                    booking_date=booking_date,
                    value_date=value_date,
                    end_to_end_id=None if end_to_end_id == "NOTPROVIDED" else end_to_end_id,
                    remittance=remittance or None,
                    debtor_name=r.text(tx, "RltdPties/Dbtr/Pty/Nm") or r.text(tx, "RltdPties/Dbtr/Nm"),
                    reversal=reversal,
                )
            )
        except ValueError as exc:
            raise r.error(tx, str(exc)) from None
    return result


def build_camt054(
    *, message_id: str, created_at: datetime, account: Account, entries: Sequence[NotificationEntry]
) -> bytes:
    """A ``camt.054.001.08`` notification for ``account``.

    Consecutive entries that share ``entry_ref`` become one ``Ntry`` (a batch booking) with one ``TxDtls``
    each, which is how ``parse_camt054`` reads them back.
    """
    check_text("message id", message_id, 35)
    if not isinstance(created_at, datetime):
        raise ValueError(f"created_at must be a datetime; got {created_at!r}")
    groups: list[list[NotificationEntry]] = []
    for e in entries:
        if e.account != account.number:
            raise ValueError(f"entry {e.entry_ref!r} is for account {e.account!r}, not {account.number!r}")
        if e.remittance is not None and len(e.remittance) > 140:
            raise ValueError(f"entry {e.entry_ref!r}: remittance must be at most 140 characters")
        if groups and groups[-1][0].entry_ref == e.entry_ref:
            first = groups[-1][0]
            shared = ("currency", "credit", "booking_date", "value_date", "reversal")
            if any(getattr(first, name) != getattr(e, name) for name in shared):
                raise ValueError(f"entries of batch {e.entry_ref!r} differ in {', '.join(shared)}")
            groups[-1].append(e)
        elif any(g[0].entry_ref == e.entry_ref for g in groups):
            raise ValueError(f"entry reference {e.entry_ref!r} is used by two separate entries")
        else:
            groups.append([e])

    stamp = created_at.isoformat(timespec="seconds")
    root = etree.Element(f"{{{CAMT054_NS}}}Document", nsmap=_default_ns(CAMT054_NS))
    body = _sub(root, "BkToCstmrDbtCdtNtfctn")
    header = _sub(body, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", stamp)
    notification = _sub(body, "Ntfctn")
    _sub(notification, "Id", message_id)
    _sub(notification, "CreDtTm", stamp)
    acct = _account_id(notification, "Acct", account.number)
    _sub(_sub(acct, "Ownr"), "Nm", account.name)
    _agent(acct, "Svcr", account)
    for group in groups:
        first = group[0]
        ntry = _sub(notification, "Ntry")
        _sub(ntry, "Amt", format_amount(sum(e.amount_minor for e in group), first.currency), Ccy=first.currency)
        _sub(ntry, "CdtDbtInd", "CRDT" if first.credit else "DBIT")
        if first.reversal:
            _sub(ntry, "RvslInd", "true")
        _sub(_sub(ntry, "Sts"), "Cd", "BOOK")
        _sub(_sub(ntry, "BookgDt"), "Dt", first.booking_date.isoformat())
        if first.value_date is not None:
            _sub(_sub(ntry, "ValDt"), "Dt", first.value_date.isoformat())
        _sub(ntry, "AcctSvcrRef", first.entry_ref)
        domain = _sub(_sub(ntry, "BkTxCd"), "Domn")
        _sub(domain, "Cd", "PMNT")
        family = _sub(domain, "Fmly")
        _sub(family, "Cd", "RCDT" if first.credit else "ICDT")  # received / issued credit transfer
        _sub(family, "SubFmlyCd", "DMCT")  # domestic
        details = _sub(ntry, "NtryDtls")
        for e in group:
            tx = _sub(details, "TxDtls")
            if e.end_to_end_id is not None:
                _sub(_sub(tx, "Refs"), "EndToEndId", e.end_to_end_id)
            _sub(tx, "Amt", format_amount(e.amount_minor, e.currency), Ccy=e.currency)
            _sub(tx, "CdtDbtInd", "CRDT" if e.credit else "DBIT")
            if e.debtor_name:
                _sub(_sub(_sub(_sub(tx, "RltdPties"), "Dbtr"), "Pty"), "Nm", e.debtor_name)
            if e.remittance:
                _sub(_sub(tx, "RmtInf"), "Ustrd", e.remittance)
    _validate(root, "camt.054.001.08.xsd", "camt.054")
    return _serialize(root)


class Iso20022Messages:
    """The ``PaymentMessages`` port over this module's functions."""

    def build_pain001(
        self,
        *,
        message_id: str,
        created_at: datetime,
        debtor: Account,
        payment_info_id: str,
        requested_date: date,
        transfers: Sequence[CreditTransfer],
        initiating_party: str,
    ) -> bytes:
        return build_pain001(
            message_id=message_id,
            created_at=created_at,
            debtor=debtor,
            payment_info_id=payment_info_id,
            requested_date=requested_date,
            transfers=transfers,
            initiating_party=initiating_party,
        )

    def validate_pain001(self, xml: bytes) -> None:
        validate_pain001(xml)

    def parse_camt054(self, xml: bytes) -> list[NotificationEntry]:
        return parse_camt054(xml)
