import pytest

from tierflow.green.taxonomy import (
    InvalidTaxonomyData,
    Relation,
    Taxonomy,
    UnknownTaxonomy,
    UnknownTaxonomyCode,
    available,
)


def test_gfspc_2025_structure() -> None:
    t = Taxonomy.load("cn-gfspc", "2025")
    assert t.depth == 3
    assert [n.name_zh for n in t.children()] == [
        "节能降碳产业",
        "环境保护产业",
        "资源循环利用产业",
        "能源绿色低碳转型",
        "生态保护修复和利用",
        "基础设施绿色升级",
        "绿色服务",
        "绿色贸易",
        "绿色消费",
    ]
    assert t.coverage["published_counts"] == [9, 38, 271]
    assert list(t.coverage["encoded_counts"]) == list(t.counts())
    assert [n.code for n in t.path("4.2.1")] == ["4", "4.2", "4.2.1"]
    assert t.ancestor("4.2.1", 1).name_en == "Green and low-carbon energy transition"
    assert t.item("4.2.1").criteria and t.item("4.2.1").is_leaf
    assert all(n.level == 3 for n in t.leaves())
    assert all(t.children(c.code) for c in t.children())  # every level-1 category has level-2 children


def test_gbepc_2021_has_four_levels_and_complete_top() -> None:
    t = Taxonomy.load("cn-gbepc", "2021")
    assert t.depth == 4
    assert t.counts()[:2] == (6, 25)
    assert t.item("3.2.2.1").name_zh == "风力发电设施建设和运营"


def test_unknown_lookups() -> None:
    t = Taxonomy.load("cn-gfspc", "2025")
    with pytest.raises(UnknownTaxonomy):
        Taxonomy.load("cn-gfspc", "1999")
    with pytest.raises(UnknownTaxonomyCode):
        t.item("99.9")
    with pytest.raises(UnknownTaxonomyCode):
        t.leaf("4.2")


def test_crosswalk() -> None:
    old, new = Taxonomy.load("cn-gbepc", "2021"), Taxonomy.load("cn-gfspc", "2025")
    cw = old.crosswalk(new)
    [wind] = cw.targets("3.2.2.1")
    assert (wind.target, wind.relation) == ("4.2.1", Relation.EQUIVALENT)
    assert {m.target for m in cw.targets("4.2.2.7")} == {"5.3.2", "5.3.3"}
    assert "6.5.1.5" in cw.unmapped and "3.2.2.1" not in cw.unmapped
    mapped = {m.source for m in cw.mappings if m.target is not None}
    assert mapped | set(cw.unmapped) == {leaf.code for leaf in old.leaves()}
    with pytest.raises(UnknownTaxonomy):
        new.crosswalk(old)


def test_other_taxonomy_loads_without_code_changes() -> None:
    assert {(r.id, r.version) for r in available()} >= {("cn-gfspc", "2025"), ("cn-gbepc", "2021")}
    eu = Taxonomy.load("eu-taxonomy", "2023")
    assert [n.code for n in eu.path("CCM.4.1")] == ["CCM", "CCM.4", "CCM.4.1"]


def test_document_checks() -> None:
    base = {
        "schema": "tierflow.green.taxonomy/1",
        "kind": "taxonomy",
        "id": "x",
        "version": "1",
        "levels": [{"name": "a"}, {"name": "b"}],
    }
    shallow_leaf = {**base, "nodes": [{"code": "1", "criteria": [{"id": "c", "text": "t"}]}]}
    with pytest.raises(InvalidTaxonomyData):
        Taxonomy.from_document(shallow_leaf)
    no_criteria = {**base, "nodes": [{"code": "1", "children": [{"code": "1.1"}]}]}
    with pytest.raises(InvalidTaxonomyData):
        Taxonomy.from_document(no_criteria)
    ok = {**base, "nodes": [{"code": "1", "children": [{"code": "1.1", "criteria": [{"id": "c", "text": "t"}]}]}]}
    assert Taxonomy.from_document(ok).counts() == (1, 1)
