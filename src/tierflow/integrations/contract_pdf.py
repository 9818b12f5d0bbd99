"""The financing contract (assignment of a receivable voucher to a financial institution) as a PDF.

``render_contract`` lays out a one-to-two page factoring contract with fpdf2: title, parties, the assigned
receivable, the price, a recourse clause that follows PRC Civil Code articles 766 (with recourse) or 767
(without recourse), warranties, notice and registration, governing law, electronic form, and two signature
blocks (the applicant and the financial institution). The PDF is later signed by both parties with PAdES
signatures (``tierflow.integrations.esign``); the blocks are the printed counterpart of those signatures.

The output is deterministic: the same terms give byte-identical PDFs (with the same fpdf2 version and the
same fonts installed). The creation date is taken from ``ContractTerms.generated_on`` and the trailer
``/ID`` is fpdf2's digest of the content and that date, so nothing random or time-dependent is embedded.

Fonts and non-Latin-1 text: the normal path uses the PDF core font Helvetica, so no font file is needed.
Core fonts only cover Latin-1. When some text (typically a Chinese party name) falls outside it, the
renderer embeds a Unicode TrueType font instead: the one passed as ``unicode_font``, else a CJK font found
in the system's font directories (Debian's ``fonts-noto-cjk``, ``fonts-wqy-zenhei``, ``fonts-wqy-microhei``,
``fonts-arphic-uming``). If there is none, every character outside Latin-1 is written as a ``\\uXXXX``
escape (``\\U0001XXXX`` beyond the basic plane), so the document stays unambiguous but is not readable as
Chinese; install a CJK font to print such names properly. The choice of font is part of the output, so a
contract must be re-rendered on a machine with the same fonts to reproduce its bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from tierflow.services.external import ContractTerms

__all__ = ["ContractTerms", "find_cjk_font", "render_contract"]


# Font files tried, in order, under each system font directory (Debian package layout).
_CJK_FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("opentype/noto/NotoSansCJK-Regular.ttc", 2),  # face 2: Simplified Chinese
    ("opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("truetype/wqy/wqy-zenhei.ttc", 0),
    ("truetype/wqy/wqy-microhei.ttc", 0),
    ("truetype/arphic/uming.ttc", 0),
)

_FAMILY_CORE = "Helvetica"
_FAMILY_UNICODE = "ContractUnicode"
_MARGIN = 20.0
_LINE = 5.0


def _font_dirs() -> list[Path]:
    """System font directories following the XDG base directory convention."""
    data_dirs = os.environ.get("XDG_DATA_DIRS") or os.pathsep.join(("/usr/local/share", "/usr/share"))
    return [Path(d) / "fonts" for d in data_dirs.split(os.pathsep) if d]


@cache
def find_cjk_font() -> tuple[Path, int] | None:
    """The first installed CJK font as (file, face index within a collection), or None."""
    for directory in _font_dirs():
        for relative, face in _CJK_FONT_CANDIDATES:
            candidate = directory / relative
            if candidate.is_file():
                return candidate, face
    return None


def _is_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _escape_non_latin1(text: str) -> str:
    return text.encode("latin-1", "backslashreplace").decode("latin-1")


def _percent(rate: str) -> str:
    """``"0.0450"`` -> ``"4.50%"``; an unparsable rate is shown as given."""
    try:
        value = Decimal(rate) * 100
    except InvalidOperation:
        return rate
    rounded = value.quantize(Decimal("0.01"))
    return f"{rounded if rounded == value else value.normalize()}%"


class _ContractDocument(FPDF):
    def __init__(self, contract_number: str, unicode_font: tuple[Path, int] | None) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._unicode = unicode_font is not None
        if unicode_font is not None:
            path, face = unicode_font
            for style in ("", "B", "I"):
                self.add_font(_FAMILY_UNICODE, style, str(path), collection_font_number=face)
        self._family = _FAMILY_UNICODE if self._unicode else _FAMILY_CORE
        self._footer_text = self.escape(f"Contract No. {contract_number}")
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(auto=True, margin=_MARGIN)

    def escape(self, value: str) -> str:
        """Text as it can be written with the current font (see the module docstring)."""
        return value if self._unicode else _escape_non_latin1(value)

    def style(self, emphasis: str = "", size: float = 10) -> None:
        self.set_font(self._family, emphasis, size)

    def footer(self) -> None:
        self.set_y(-14)
        self.style("I", 8)
        self.set_text_color(90)
        self.cell(0, 5, f"{self._footer_text}  -  page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0)

    def heading(self, value: str) -> None:
        self.ln(2)
        self.style("B", 11)
        self.multi_cell(0, 6, self.escape(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def paragraph(self, value: str) -> None:
        self.style("", 10)
        self.multi_cell(0, _LINE, self.escape(value), align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)

    def key_values(self, rows: Sequence[tuple[str, str]], *, widths: tuple[int, int] = (58, 112)) -> None:
        self.style("", 10)
        with self.table(
            col_widths=widths,
            first_row_as_headings=False,
            text_align=("LEFT", "LEFT"),
            line_height=_LINE,
            padding=0.8,
            width=sum(widths),
        ) as table:
            for label, value in rows:
                row = table.row()
                row.cell(self.escape(label))
                row.cell(self.escape(value))
        self.ln(2)

    def money_table(self, currency: str, rows: Iterable[tuple[str, str, bool]]) -> None:
        self.style("", 10)
        widths = (120, 50)
        with self.table(
            col_widths=widths,
            text_align=("LEFT", "RIGHT"),
            line_height=_LINE,
            padding=0.8,
            width=sum(widths),
        ) as table:
            header = table.row()
            header.cell("Item")
            header.cell(self.escape(f"Amount ({currency})"))
            for label, amount, strong in rows:
                row = table.row()
                emphasis = FontFace(emphasis="BOLD") if strong else None
                row.cell(self.escape(label), style=emphasis)
                row.cell(self.escape(amount), style=emphasis)
        self.ln(2)

    def signature_blocks(self, blocks: Sequence[tuple[str, str, str]]) -> None:
        """Side-by-side blocks of (role, party name, party id), kept together on one page."""
        height = 48.0
        if self.will_page_break(height):
            self.add_page()
        self.ln(4)
        top = self.get_y()
        gap = 10.0
        width = (self.epw - gap) / len(blocks)
        bottom = top
        for index, (role, name, party_id) in enumerate(blocks):
            x = self.l_margin + index * (width + gap)
            self.set_xy(x, top)
            self.style("B", 10)
            self.multi_cell(width, _LINE, self.escape(role), new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.style("", 10)
            self.multi_cell(width, _LINE, self.escape(name), new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.multi_cell(width, _LINE, self.escape(f"Party ID: {party_id}"), new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.ln(12)
            self.set_x(x)
            self.line(x, self.get_y(), x + width, self.get_y())
            self.ln(1)
            self.set_x(x)
            self.style("", 8)
            self.multi_cell(
                width,
                4,
                "Authorised signature (electronic, embedded in this file)",
                new_x=XPos.LEFT,
                new_y=YPos.NEXT,
            )
            self.ln(6)
            self.set_x(x)
            self.line(x, self.get_y(), x + width * 0.6, self.get_y())
            self.ln(1)
            self.set_x(x)
            self.multi_cell(width, 4, "Date", new_x=XPos.LEFT, new_y=YPos.NEXT)
            bottom = max(bottom, self.get_y())
        self.set_xy(self.l_margin, bottom)


def _needs_unicode(terms: ContractTerms) -> bool:
    for field in fields(terms):
        value = getattr(terms, field.name)
        values = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, str) and not _is_latin1(v) for v in values):
            return True
    return False


def _recourse_clause(terms: ContractTerms) -> str:
    if terms.recourse:
        return (
            "This is a factoring with recourse (Civil Code of the People's Republic of China, Article 766). "
            "If the Obligor has not paid the face amount in full by the maturity date, the Financial Institution "
            "may claim payment from the Obligor or require the Applicant to repurchase the assigned receivable by "
            "paying the unpaid face amount together with the costs of collection. Any amount the Financial "
            "Institution recovers from the Obligor beyond its claim under this contract is returned to the Applicant."
        )
    return (
        "This is a factoring without recourse (Civil Code of the People's Republic of China, Article 767). The "
        "Financial Institution bears the risk that the Obligor does not pay because of insolvency or inability to "
        "pay and has no claim against the Applicant for that reason; it collects the receivable from the Obligor "
        "and keeps what it recovers. The Applicant remains liable only for a breach of the warranties in Article 4, "
        "in which case it shall repay the net amount received with interest at the annual rate from the value date."
    )


def render_contract(terms: ContractTerms, *, unicode_font: tuple[Path, int] | None = None) -> bytes:
    """The contract as PDF bytes; deterministic for the same terms and fonts.

    ``unicode_font`` (a TrueType/OpenType file and its face index in a collection) is used only when some
    text is outside Latin-1; by default ``find_cjk_font()`` is tried, then ``\\uXXXX`` escapes.
    """
    font = (unicode_font or find_cjk_font()) if _needs_unicode(terms) else None
    pdf = _ContractDocument(terms.contract_number, font)
    created = datetime.combine(terms.generated_on, time(0, 0), tzinfo=UTC)
    pdf.set_creation_date(created)
    pdf.set_title(f"Receivable assignment and financing contract {terms.contract_number}")
    pdf.set_subject(f"Financing {terms.financing_id}, voucher {terms.voucher_id}")
    pdf.set_author(terms.financier_name)
    pdf.set_creator("tierflow")
    pdf.set_lang("en")
    pdf.add_page()

    pdf.style("B", 15)
    pdf.multi_cell(0, 8, "RECEIVABLE ASSIGNMENT AND FINANCING CONTRACT", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.style("", 10)
    pdf.multi_cell(
        0, _LINE, "(factoring of a supply-chain receivable voucher)", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.ln(3)
    pdf.key_values(
        [
            ("Contract No.", terms.contract_number),
            ("Financing ID", terms.financing_id),
            ("Date of this contract", terms.generated_on.isoformat()),
        ]
    )

    pdf.heading("Parties")
    pdf.key_values(
        [
            ("Applicant (assignor)", f"{terms.applicant_name}\nParty ID: {terms.applicant_id}"),
            ("Financial Institution (assignee)", f"{terms.financier_name}\nParty ID: {terms.financier_id}"),
            ("Obligor (debtor of the receivable)", f"{terms.obligor_name}\nParty ID: {terms.obligor_id}"),
        ]
    )

    pdf.heading("Article 1  The assigned receivable")
    pdf.paragraph(
        "The Applicant assigns to the Financial Institution, and the Financial Institution accepts, the "
        "receivable described below, with the right to payment and all ancillary rights, for the price set out "
        "in Article 2. The Obligor has acknowledged the receivable by issuing the voucher on the platform."
    )
    invoices = ", ".join(terms.invoice_numbers) if terms.invoice_numbers else "none stated"
    pdf.key_values(
        [
            ("Voucher", terms.voucher_id),
            ("Units assigned", terms.unit_range),
            ("Face amount", f"{terms.currency} {terms.amount}"),
            ("Maturity date", terms.maturity.isoformat()),
            ("Underlying trade contract", terms.trade_contract),
            ("VAT invoices", invoices),
        ]
    )

    pdf.heading("Article 2  Price and payment")
    pdf.money_table(
        terms.currency,
        [
            ("Face amount of the assigned units", terms.amount, False),
            (
                f"Discount at {_percent(terms.annual_rate)} per annum ({terms.basis}), "
                f"{terms.value_date.isoformat()} to {terms.maturity.isoformat()}",
                terms.discount,
                False,
            ),
            ("Fees", terms.fee, False),
            ("Net amount payable to the Applicant", terms.net, True),
        ],
    )
    pdf.paragraph(
        f"The Financial Institution pays the net amount to the Applicant's settlement account on the value date, "
        f"{terms.value_date.isoformat()}. On the maturity date, {terms.maturity.isoformat()}, the Obligor pays the "
        f"face amount to the Financial Institution; payment to the Applicant after notice of this assignment "
        f"does not discharge the Obligor."
    )

    pdf.heading("Article 3  Recourse")
    pdf.paragraph(_recourse_clause(terms))

    pdf.heading("Article 4  Warranties of the Applicant")
    pdf.paragraph(
        "The Applicant warrants that the receivable exists and arises from a genuine sale of goods or services "
        "under the trade contract and invoices stated in Article 1; that it has not been assigned, pledged or "
        "otherwise encumbered in favour of anyone else; and that the Obligor has no defence or right of set-off "
        "against it."
    )

    pdf.heading("Article 5  Notice, registration and record")
    pdf.paragraph(
        "The assignment takes effect when both parties have signed this contract. The transfer of the units on "
        "the platform's journal is the notice of assignment to the Obligor (Civil Code, Article 546). The "
        "Financial Institution may register the assignment with the movable-property financing registry; "
        "registration determines priority among competing assignees (Civil Code, Article 768)."
    )

    pdf.heading("Article 6  Governing law and disputes")
    pdf.paragraph(
        "This contract is governed by the laws of the People's Republic of China. Any dispute arising from it is "
        "submitted to the people's court having jurisdiction over the Financial Institution's domicile."
    )

    pdf.heading("Article 7  Electronic form")
    pdf.paragraph(
        "This contract is made in electronic form. Each party signs it with a reliable electronic signature "
        "within the meaning of the Electronic Signature Law of the People's Republic of China, embedded in this "
        "file as a PAdES signature. The signed file is the original; any change to it after signature "
        "invalidates the signatures."
    )

    pdf.signature_blocks(
        [
            ("For the Applicant", terms.applicant_name, terms.applicant_id),
            ("For the Financial Institution", terms.financier_name, terms.financier_id),
        ]
    )
    return bytes(pdf.output())
