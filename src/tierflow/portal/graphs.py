"""Provenance as pictures: the read model's holdings turned into the layered graphs of ``charts``.

Layer 0 is the obligor (who issued the voucher); a holding sits in the layer of its tier; an arrow goes from a
holding to each holding made from it (split, passed on, financed, settled), labelled with the child's amount.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tierflow.domain.money import Money
from tierflow.portal.charts import Chart, GraphEdge, GraphNode, format_money, provenance_graph

Href = Callable[[str], str | None]


def _minor(amount: Mapping[str, Any]) -> int:
    return Money.parse(str(amount["amount"]), str(amount["currency"])).minor


def voucher_graph(
    voucher: Mapping[str, Any],
    tiers: Mapping[str, Any],
    *,
    href: Href,
    obligor_name: str | None = None,
    current: str | None = None,
) -> Chart:
    """Every holding of one voucher (as ``QueryService.voucher_tiers`` lists them, parents first) under its
    obligor, one box per party and tier: a holding made from one of the same holder at the same tier (the
    change kept after a split, an offer accepted back, a financing funded by the same bank...) joins its
    parent's box, so the picture shows changes of hands, not bookkeeping."""
    currency = str(voucher["face"]["currency"])
    root = f"obligor:{voucher['id']}"
    groups: dict[str, dict[str, Any]] = {}
    box_of: dict[str, str] = {}
    edges: list[GraphEdge] = []
    for node in tiers["nodes"]:
        node_id, parent = str(node["id"]), node.get("parent_id")
        box = box_of.get(str(parent)) if parent else None
        if box is not None and (groups[box]["holder"], groups[box]["tier"]) == (node["holder"], node["tier"]):
            box_of[node_id] = box
        else:
            box_of[node_id] = node_id
            # Units change hands to a deeper tier when transferred; a new holder at the SAME tier bought them
            # (a financing): that box gets a column of its own after its tier's, so arrows only go rightwards.
            financed = box is not None and groups[box]["tier"] == node["tier"]
            layer = 2 * int(node["tier"]) + (1 if financed else 0)
            groups[node_id] = {**node, "layer": layer, "received": int(node["amount_minor"]), "now": 0, "settled": 0}
            source = box if box is not None else (root if not parent else None)
            if source is not None:  # a parent beyond the listing's cap is left out
                edges.append(GraphEdge(source, node_id, format_money(int(node["amount_minor"]), currency)))
        group = groups[box_of[node_id]]
        if node["status"] == "settled":
            group["settled"] += int(node["amount_minor"])
        elif node["status"] != "superseded":
            group["now"] += int(node["amount_minor"])
    nodes = [
        GraphNode(
            root,
            obligor_name or str(voucher.get("obligor_name") or voucher["obligor"]),
            f"Issued {format_money(_minor(voucher['face']), currency)}",
            layer=0,
        )
    ]
    for box, group in groups.items():
        parts = [f"got {format_money(group['received'], currency)}"]
        if group["now"]:
            parts.append(f"holds {format_money(group['now'], currency)}")
        if group["settled"]:
            parts.append(f"paid {format_money(group['settled'], currency)}")
        nodes.append(
            GraphNode(
                box,
                str(group.get("holder_name") or group["holder"]),
                " · ".join(parts),
                layer=int(group["layer"]),
                href=href(box),
                current=box == current,
            )
        )
    title = f"Where the units of voucher {voucher.get('contract_ref') or voucher['id']} went"
    return provenance_graph(
        nodes, edges, chart_id=f"graph-{voucher['id'][-8:]}", title=title, layer_label=_column_label
    )


def _column_label(layer: int) -> str:
    """Columns of ``voucher_graph``: 0 the issuer, 2t tier t, 2t+1 those who financed units held at tier t."""
    if layer == 0:
        return "Issuer"
    tier, financed = divmod(layer, 2)
    return f"Financed at tier {tier}" if financed else f"Tier {tier}"


def chain_graph(provenance: Mapping[str, Any], *, href: Href | None = None) -> Chart:
    """One holding's chain of custody (``QueryService.provenance``): the obligor, then each change of hands."""
    holding, voucher = provenance["holding"], provenance["voucher"]
    currency = str(voucher["face"]["currency"])
    root = "obligor"
    nodes = [
        GraphNode(
            root,
            str(voucher.get("obligor_name") or voucher["obligor"]),
            f"Obligor · {format_money(_minor(voucher['face']), currency)}",
            layer=0,
        )
    ]
    edges = []
    previous = root
    for hop in provenance["hops"]:
        node_id = str(hop["holding_id"])
        nodes.append(
            GraphNode(
                node_id,
                str(hop.get("holder_name") or hop["holder"]),
                f"Tier {hop['tier']}" + (f" · {hop['trade_ref']}" if hop.get("trade_ref") else ""),
                layer=int(hop["tier"]),
                href=href(node_id) if href else None,
                current=node_id == holding["id"],
            )
        )
        edges.append(GraphEdge(previous, node_id, str(hop.get("event_kind") or "")))
        previous = node_id
    return provenance_graph(nodes, edges, chart_id=f"chain-{str(holding['id'])[-8:]}", title="Chain of custody")
