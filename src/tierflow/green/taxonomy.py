"""Green taxonomies as versioned data: trees of codes with criteria, and cross-walks between them.

Design overview
---------------

A taxonomy edition is one JSON file under ``green/data/taxonomies`` read with ``importlib.resources``; the code
knows no taxonomy by name, so another one (EU Taxonomy, Common Ground Taxonomy, a new Chinese edition) is added by
dropping in a file. ``Taxonomy.load(id, version)`` finds the file whose ``kind``/``id``/``version`` match.

Taxonomy file (``"schema": "tierflow.green.taxonomy/1"``)::

    {"schema": ..., "kind": "taxonomy", "id": "cn-gfspc", "version": "2025",
     "name": {"zh": ..., "en": ...}, "jurisdiction": "CN",
     "source": {"document": ..., "issuers": [...], "published": ..., "effective": ...},
     "levels": [{"level": 1, "name": ...}, ...],            # depth of the tree; leaves sit at the last level
     "coverage": {"published_counts": [...] | null, "encoded_counts": [...], "text": ...},
     "nodes": [{"code": "1", "name": {...}, "provisional": false,
                "criteria": [{"id": ..., "text": ...}],     # leaves only
                "children": [...]}]}

Codes are opaque strings unique within an edition (``"1.1.1"``, ``"CCM.4.1"``); the tree, not the code's
spelling, gives the path. Every leaf sits at the deepest level and carries at least one criterion. A node may be
flagged ``provisional`` when its title or code awaits checking against the official text.

Cross-walk file (``"schema": "tierflow.green.crosswalk/1"``)::

    {"kind": "crosswalk", "from": {"id", "version"}, "to": {"id", "version"},
     "mappings": [{"from": code, "to": code | null, "relation": "equivalent|narrower|broader|none", "note"?}]}

``relation`` describes the source item relative to the target. Source leaves that no mapping names are reported
by ``Crosswalk.unmapped``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from tierflow.domain.errors import DomainError, ErrorKind

TAXONOMY_SCHEMA = "tierflow.green.taxonomy/1"
CROSSWALK_SCHEMA = "tierflow.green.crosswalk/1"


class UnknownTaxonomy(DomainError):
    code = "unknown_taxonomy"
    kind = ErrorKind.NOT_FOUND


class UnknownTaxonomyCode(DomainError):
    code = "unknown_taxonomy_code"
    kind = ErrorKind.NOT_FOUND


class InvalidTaxonomyData(DomainError):
    code = "invalid_taxonomy_data"
    kind = ErrorKind.INVALID


@dataclass(frozen=True, slots=True)
class Criterion:
    """One eligibility criterion of a leaf item (a summary of the technical standard or condition)."""

    id: str
    text: str


@dataclass(frozen=True, slots=True)
class TaxonomyNode:
    """A category or item; ``level`` is 1 at the top; leaves have no children and carry criteria."""

    code: str
    level: int
    name_zh: str
    name_en: str
    parent: str | None
    children: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    provisional: bool

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise UnknownTaxonomyCode(f"item {self.code} has no criterion {criterion_id!r}", code=self.code)


@dataclass(frozen=True, slots=True)
class TaxonomyRef:
    id: str
    version: str

    def __str__(self) -> str:
        return f"{self.id}@{self.version}"


def _text(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidTaxonomyData(f"{where}: {key!r} must be a non-empty string")
    return value


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """One edition of a taxonomy: an immutable tree indexed by code."""

    ref: TaxonomyRef
    name_zh: str
    name_en: str
    source: Mapping[str, Any]
    level_names: tuple[str, ...]
    coverage: Mapping[str, Any]
    roots: tuple[str, ...]
    nodes: Mapping[str, TaxonomyNode]

    @property
    def depth(self) -> int:
        return len(self.level_names)

    @classmethod
    def load(cls, taxonomy_id: str, version: str) -> Taxonomy:
        """The packaged edition ``taxonomy_id`` / ``version``; raises UnknownTaxonomy."""
        try:
            doc = _documents()[("taxonomy", taxonomy_id, version)]
        except KeyError:
            raise UnknownTaxonomy(
                f"no taxonomy {taxonomy_id}@{version}", taxonomy_id=taxonomy_id, version=version
            ) from None
        return _parsed(doc)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Taxonomy:
        """Build and check a taxonomy from a parsed JSON document."""
        if doc.get("schema") != TAXONOMY_SCHEMA or doc.get("kind") != "taxonomy":
            raise InvalidTaxonomyData(f"not a {TAXONOMY_SCHEMA} document")
        ref = TaxonomyRef(_text(doc, "id", "taxonomy"), _text(doc, "version", "taxonomy"))
        levels = doc.get("levels")
        if not isinstance(levels, list) or not levels:
            raise InvalidTaxonomyData(f"{ref}: 'levels' must be a non-empty list")
        level_names = tuple(_text(lv, "name", f"{ref} levels") for lv in levels)
        nodes: dict[str, TaxonomyNode] = {}

        def walk(raw: Any, level: int, parent: str | None) -> str:
            if not isinstance(raw, Mapping):
                raise InvalidTaxonomyData(f"{ref}: node must be an object")
            code = _text(raw, "code", f"{ref} node")
            if code in nodes:
                raise InvalidTaxonomyData(f"{ref}: duplicate code {code}")
            if level > len(level_names):
                raise InvalidTaxonomyData(f"{ref}: {code} is deeper than the declared levels")
            name = raw.get("name") or {}
            kids_raw = raw.get("children") or []
            crit_raw = raw.get("criteria") or []
            nodes[code] = TaxonomyNode(code, level, "", "", parent, (), (), False)  # reserve the code
            children = tuple(walk(k, level + 1, code) for k in kids_raw)
            criteria = tuple(
                Criterion(_text(c, "id", f"{ref} {code}"), _text(c, "text", f"{ref} {code}")) for c in crit_raw
            )
            if not children and level != len(level_names):
                raise InvalidTaxonomyData(f"{ref}: leaf {code} is not at level {len(level_names)}")
            if not children and not criteria:
                raise InvalidTaxonomyData(f"{ref}: leaf {code} has no criteria")
            if children and criteria:
                raise InvalidTaxonomyData(f"{ref}: only leaves carry criteria ({code})")
            nodes[code] = TaxonomyNode(
                code=code,
                level=level,
                name_zh=str(name.get("zh", "")),
                name_en=str(name.get("en", "")),
                parent=parent,
                children=children,
                criteria=criteria,
                provisional=bool(raw.get("provisional", False)),
            )
            return code

        roots = tuple(walk(n, 1, None) for n in doc.get("nodes") or [])
        if not roots:
            raise InvalidTaxonomyData(f"{ref}: no nodes")
        name = doc.get("name") or {}
        taxonomy = cls(
            ref=ref,
            name_zh=str(name.get("zh", "")),
            name_en=str(name.get("en", "")),
            source=MappingProxyType(dict(doc.get("source") or {})),
            level_names=level_names,
            coverage=MappingProxyType(dict(doc.get("coverage") or {})),
            roots=roots,
            nodes=MappingProxyType(nodes),
        )
        declared = taxonomy.coverage.get("encoded_counts")
        if declared is not None and list(declared) != list(taxonomy.counts()):
            raise InvalidTaxonomyData(f"{ref}: coverage.encoded_counts {declared} != {list(taxonomy.counts())}")
        return taxonomy

    def item(self, code: str) -> TaxonomyNode:
        """The node with ``code`` (any level); raises UnknownTaxonomyCode."""
        try:
            return self.nodes[code]
        except KeyError:
            raise UnknownTaxonomyCode(f"{self.ref} has no code {code!r}", taxonomy=str(self.ref), code=code) from None

    def leaf(self, code: str) -> TaxonomyNode:
        """The leaf item ``code``; raises UnknownTaxonomyCode when it is missing or not a leaf."""
        node = self.item(code)
        if not node.is_leaf:
            raise UnknownTaxonomyCode(f"{code} is a level-{node.level} category of {self.ref}, not an item", code=code)
        return node

    def path(self, code: str) -> tuple[TaxonomyNode, ...]:
        """Nodes from level 1 down to ``code``."""
        chain = [self.item(code)]
        while chain[-1].parent is not None:
            chain.append(self.nodes[chain[-1].parent])
        return tuple(reversed(chain))

    def ancestor(self, code: str, level: int) -> TaxonomyNode:
        """The level-``level`` node on the path to ``code``."""
        chain = self.path(code)
        if not 1 <= level <= len(chain):
            raise UnknownTaxonomyCode(f"{code} has no level-{level} ancestor", code=code, level=level)
        return chain[level - 1]

    def children(self, code: str | None = None) -> tuple[TaxonomyNode, ...]:
        """Direct children of ``code``, or the level-1 categories."""
        codes = self.roots if code is None else self.item(code).children
        return tuple(self.nodes[c] for c in codes)

    def walk(self) -> Iterator[TaxonomyNode]:
        """All nodes depth-first in document order."""
        stack = list(reversed(self.roots))
        while stack:
            node = self.nodes[stack.pop()]
            yield node
            stack.extend(reversed(node.children))

    def leaves(self) -> tuple[TaxonomyNode, ...]:
        return tuple(n for n in self.walk() if n.is_leaf)

    def counts(self) -> tuple[int, ...]:
        """Number of encoded nodes per level."""
        out = [0] * self.depth
        for node in self.nodes.values():
            out[node.level - 1] += 1
        return tuple(out)

    def crosswalk(self, to: Taxonomy) -> Crosswalk:
        """The packaged cross-walk from this edition to ``to``."""
        return Crosswalk.load(self.ref, to.ref)


class Relation(StrEnum):
    """How a source item relates to a target item."""

    EQUIVALENT = "equivalent"
    NARROWER = "narrower"
    BROADER = "broader"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class CrosswalkEntry:
    source: str
    target: str | None
    relation: Relation
    note: str = ""


@dataclass(frozen=True, slots=True)
class Crosswalk:
    """Mappings of leaf items of one edition onto leaf items of another."""

    source: TaxonomyRef
    target: TaxonomyRef
    mappings: tuple[CrosswalkEntry, ...]
    unmapped: tuple[str, ...]

    @classmethod
    def load(cls, source: TaxonomyRef, target: TaxonomyRef) -> Crosswalk:
        """The packaged cross-walk, checked against both editions; raises UnknownTaxonomy."""
        key = ("crosswalk", f"{source}", f"{target}")
        try:
            doc = _documents()[key]
        except KeyError:
            raise UnknownTaxonomy(f"no cross-walk from {source} to {target}") from None
        return _crosswalk(doc)

    def targets(self, code: str) -> tuple[CrosswalkEntry, ...]:
        """Mappings of source item ``code`` (empty when it is unmapped)."""
        return tuple(m for m in self.mappings if m.source == code and m.target is not None)


# -- loading ---------------------------------------------------------------------------------------------------


@cache
def _documents() -> Mapping[tuple[str, str, str], Mapping[str, Any]]:
    out: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    folder = resources.files("tierflow.green").joinpath("data", "taxonomies")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        doc = json.loads(entry.read_text(encoding="utf-8"))
        kind = doc.get("kind")
        if kind == "taxonomy":
            key = ("taxonomy", str(doc.get("id")), str(doc.get("version")))
        elif kind == "crosswalk":
            src, dst = doc.get("from") or {}, doc.get("to") or {}
            key = ("crosswalk", f"{src.get('id')}@{src.get('version')}", f"{dst.get('id')}@{dst.get('version')}")
        else:
            raise InvalidTaxonomyData(f"{entry.name}: unknown kind {kind!r}")
        if key in out:
            raise InvalidTaxonomyData(f"{entry.name}: duplicate {key}")
        out[key] = doc
    return MappingProxyType(out)


def available() -> tuple[TaxonomyRef, ...]:
    """Editions shipped with the package."""
    return tuple(TaxonomyRef(k[1], k[2]) for k in _documents() if k[0] == "taxonomy")


_PARSED: dict[int, Taxonomy] = {}


def _parsed(doc: Mapping[str, Any]) -> Taxonomy:
    key = id(doc)
    if key not in _PARSED:
        _PARSED[key] = Taxonomy.from_document(doc)
    return _PARSED[key]


def _crosswalk(doc: Mapping[str, Any]) -> Crosswalk:
    if doc.get("schema") != CROSSWALK_SCHEMA:
        raise InvalidTaxonomyData(f"not a {CROSSWALK_SCHEMA} document")
    src_raw, dst_raw = doc["from"], doc["to"]
    source = Taxonomy.load(str(src_raw["id"]), str(src_raw["version"]))
    target = Taxonomy.load(str(dst_raw["id"]), str(dst_raw["version"]))
    mappings: list[CrosswalkEntry] = []
    for raw in doc.get("mappings") or []:
        relation = Relation(raw.get("relation"))
        src_code = str(raw.get("from"))
        source.leaf(src_code)
        dst_code = raw.get("to")
        if relation is Relation.NONE:
            if dst_code is not None:
                raise InvalidTaxonomyData(f"{src_code}: relation 'none' must have no target")
        else:
            if not isinstance(dst_code, str):
                raise InvalidTaxonomyData(f"{src_code}: relation {relation} needs a target")
            target.leaf(dst_code)
        mappings.append(CrosswalkEntry(src_code, dst_code, relation, str(raw.get("note", ""))))
    mapped = {m.source for m in mappings if m.target is not None}
    unmapped = tuple(leaf.code for leaf in source.leaves() if leaf.code not in mapped)
    return Crosswalk(source.ref, target.ref, tuple(mappings), unmapped)
