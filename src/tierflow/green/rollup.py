"""Cradle-to-gate product footprints rolled up a supplier graph in one sparse solve.

Model. Node ``i`` produces one declared unit of its product. An edge ``(i, j, q)`` says that ``i`` consumes ``q``
units of ``j``'s product per unit of its own; ``e_i`` is ``i``'s own (gate-to-gate) emission per unit. With
``Q[i, j] = q``, the cradle-to-gate footprints ``f`` solve ``f = e + Q f``, i.e. ``(I − Q) f = e``. Supply
graphs may have cycles (mutual supply, self-loops below one unit); the system has a unique, meaningful
solution exactly when the spectral radius of ``Q`` is below 1, i.e. when ``A = I − Q`` is a non-singular
M-matrix. Every roll-up proves that: it also solves ``A w = 1`` and checks ``w > 0`` (a Z-matrix with a positive
``w`` and positive ``A w`` is a non-singular M-matrix), and ``max w = ‖A⁻¹‖∞`` (the *amplification*: the
largest footprint if every node emitted one unit) tells how close to singular the graph is.

Solver (chosen by measurement, see ``docs/PERFORMANCE.md`` §8):

1. Strongly connected components (SciPy's ``csgraph``) order the nodes suppliers-first, so that every edge
   between components lies below the diagonal of the permuted ``A``: a block lower-triangular matrix.
2. ``T`` is that matrix with the upper triangle removed inside components of more than ``max_block`` nodes
   (small components, the usual mutual-supply pairs and triangles, are kept whole). ``T`` is factorised by
   SuperLU (``splu``) in that order, without pivoting (Gaussian elimination needs none on an M-matrix), so
   there is no fill outside the small components. When no large component exists ``T = A`` and the solve is
   direct (method ``"lu"``).
3. Otherwise the splitting ``A = T − (T − A)`` is iterated, ``x ← x + T⁻¹ (b − A x)`` (method
   ``"lu-splitting"``: a regular splitting of an M-matrix, which converges and, from zero with ``b ≥ 0``,
   increases monotonically). The same step refines the direct solution when its residual is too large.
4. Fallback: when the iteration has not reached the tolerance after ``max_iterations`` steps, GMRES
   preconditioned with ``T⁻¹`` continues from the last iterate (method ``"gmres"``). If that fails too,
   :class:`RollupNotConverged` is raised with the residual reached.

The relative residual ``‖(I − Q) f − e‖₂ / ‖e‖₂`` (absolute when ``e = 0``) is computed from the result and
checked against ``tol``. The solve is in binary floating point (float64); the residual is reported with every
result.

Updates reuse the factorisation. A change of one node's own emission is ``Δf = Δe_k · A⁻¹ e_k`` (one solve).
A change of one node's inputs replaces row ``k`` of ``Q``: ``A' = A − e_k dᵀ``, and Sherman–Morrison gives
``f' = f + u (dᵀ f) / (1 − dᵀ u)`` with ``u = A⁻¹ e_k``; ``1 − dᵀ u = det A' / det A`` stays positive exactly
when the new graph is still non-singular (else :class:`SingularSupplyGraph`). Row updates are kept in product
form on top of the factorisation; after ``max_updates`` of them, or when an update's residual check fails, the
roll-up is recomputed from scratch.

Boundary. Quantities and emissions may be given as ``Decimal`` (or decimal strings, as in PACT), ``int`` or
``float``; they are converted to float64 on the way in. Footprints come back as a float64 array indexed like
``graph.ids``; :func:`decimal_strings` renders them as decimal strings rounded to a stated number of
significant digits.

Duplicate edges (the same consumer and supplier twice) are refused unless ``duplicates="sum"`` is passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Literal, TypeAlias

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

__all__ = [
    "InvalidSupplyGraph",
    "Number",
    "Rollup",
    "RollupError",
    "RollupNotConverged",
    "SingularSupplyGraph",
    "SupplyGraph",
    "decimal_strings",
    "rollup",
    "to_float",
]

Number: TypeAlias = Decimal | int | float | str
FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]
Duplicates: TypeAlias = Literal["refuse", "sum"]


class RollupError(ValueError):
    """Base class of the roll-up's errors."""


class InvalidSupplyGraph(RollupError):
    """Bad input: unknown or repeated ids, negative or non-finite numbers, self-loops ≥ 1, duplicate edges."""


class SingularSupplyGraph(RollupError):
    """``I − Q`` is singular or nearly so (spectral radius of ``Q`` ≥ 1, or amplification above the limit)."""


class RollupNotConverged(RollupError):
    """Neither the primary solver nor the fallback reached the tolerance."""

    def __init__(self, message: str, residual: float) -> None:
        super().__init__(message)
        self.residual = residual


def to_float(value: Number, what: str = "value") -> float:
    """Converts a boundary number (``Decimal``, decimal string, ``int``, ``float``) to a finite float."""
    if isinstance(value, bool):
        raise InvalidSupplyGraph(f"{what}: a boolean is not a number")
    try:
        number = float(Decimal(value)) if isinstance(value, str | Decimal) else float(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise InvalidSupplyGraph(f"{what}: not a number: {value!r}") from exc
    if not np.isfinite(number):
        raise InvalidSupplyGraph(f"{what}: not finite: {value!r}")
    return number


def decimal_strings(values: Iterable[float], significant: int = 6) -> list[str]:
    """Renders floats as plain decimal strings rounded half-even to ``significant`` significant digits."""
    if significant < 1:
        raise ValueError("significant must be at least 1")
    context = Context(prec=significant, rounding=ROUND_HALF_EVEN)
    out = []
    for value in values:
        number = float(value)
        if not np.isfinite(number):
            raise ValueError(f"not finite: {number!r}")
        rounded = context.plus(Decimal(number))
        out.append("0" if rounded.is_zero() else format(rounded, "f"))
    return out


def _vector(values: Iterable[Number] | FloatArray, n: int, what: str) -> FloatArray:
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        array = np.asarray(values, dtype=np.float64).copy()
    else:
        array = np.array([to_float(v, what) for v in values], dtype=np.float64)
    if array.shape != (n,):
        raise InvalidSupplyGraph(f"{what}: expected {n} values, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidSupplyGraph(f"{what}: values must be finite")
    return array


class SupplyGraph:
    """An immutable supplier graph: node ids and the input matrix ``Q`` (CSR, float64, rows = consumers)."""

    __slots__ = ("_ids", "_index", "_q")

    def __init__(self, ids: tuple[str, ...], index: Mapping[str, int], q: sp.csr_matrix) -> None:
        self._ids = ids
        self._index = index
        self._q = q

    @classmethod
    def from_edges(
        cls, ids: Iterable[str], edges: Iterable[tuple[str, str, Number]], *, duplicates: Duplicates = "refuse"
    ) -> SupplyGraph:
        """Builds a graph from ``(consumer, supplier, quantity per unit of the consumer)`` triples."""
        id_tuple, index = _index(ids)
        rows: list[int] = []
        cols: list[int] = []
        quantities: list[float] = []
        for consumer, supplier, quantity in edges:
            for node in (consumer, supplier):
                if node not in index:
                    raise InvalidSupplyGraph(f"unknown node id {node!r}")
            rows.append(index[consumer])
            cols.append(index[supplier])
            quantities.append(to_float(quantity, f"quantity {consumer!r} <- {supplier!r}"))
        return cls._build(
            id_tuple,
            index,
            np.asarray(rows, dtype=np.int64),
            np.asarray(cols, dtype=np.int64),
            np.asarray(quantities, dtype=np.float64),
            duplicates,
        )

    @classmethod
    def from_arrays(
        cls,
        ids: Iterable[str],
        consumers: Sequence[int] | IntArray,
        suppliers: Sequence[int] | IntArray,
        quantities: Sequence[float] | FloatArray,
        *,
        duplicates: Duplicates = "refuse",
    ) -> SupplyGraph:
        """Builds a graph from parallel arrays of consumer and supplier positions in ``ids`` and quantities."""
        id_tuple, index = _index(ids)
        rows = np.asarray(consumers, dtype=np.int64)
        cols = np.asarray(suppliers, dtype=np.int64)
        values = np.asarray(quantities, dtype=np.float64)
        if not rows.shape == cols.shape == values.shape or rows.ndim != 1:
            raise InvalidSupplyGraph("consumers, suppliers and quantities must be 1-d arrays of one length")
        n = len(id_tuple)
        for name, array in (("consumer", rows), ("supplier", cols)):
            if array.size and (array.min() < 0 or array.max() >= n):
                raise InvalidSupplyGraph(f"{name} position out of range 0..{n - 1}")
        return cls._build(id_tuple, index, rows, cols, values, duplicates)

    @classmethod
    def _build(
        cls,
        ids: tuple[str, ...],
        index: Mapping[str, int],
        rows: IntArray,
        cols: IntArray,
        values: FloatArray,
        duplicates: Duplicates,
    ) -> SupplyGraph:
        _check_quantities(values, rows == cols)
        n = len(ids)
        if duplicates not in ("refuse", "sum"):
            raise ValueError("duplicates must be 'refuse' or 'sum'")
        if duplicates == "refuse" and rows.size:
            key = rows * n + cols
            ordered = np.sort(key)
            repeated = ordered[1:][ordered[1:] == ordered[:-1]]
            if repeated.size:
                i, j = divmod(int(repeated[0]), n)
                raise InvalidSupplyGraph(f"duplicate edge {ids[i]!r} <- {ids[j]!r} (pass duplicates='sum' to add)")
        q = sp.csr_matrix((values, (rows, cols)), shape=(n, n), dtype=np.float64)
        q.sum_duplicates()
        q.eliminate_zeros()
        diagonal = q.diagonal()
        if np.any(diagonal >= 1.0):
            k = int(np.flatnonzero(diagonal >= 1.0)[0])
            raise InvalidSupplyGraph(f"node {ids[k]!r} consumes {diagonal[k]} ≥ 1 unit of its own product")
        return cls(ids, index, q)

    @property
    def ids(self) -> tuple[str, ...]:
        """Node ids; position ``i`` is row and column ``i`` of ``Q`` and entry ``i`` of every result array."""
        return self._ids

    @property
    def matrix(self) -> sp.csr_matrix:
        """``Q`` as a CSR matrix (do not modify)."""
        return self._q

    @property
    def size(self) -> int:
        return len(self._ids)

    @property
    def edge_count(self) -> int:
        return int(self._q.nnz)

    def position(self, node: str) -> int:
        """The position of ``node`` in ``ids``."""
        try:
            return self._index[node]
        except KeyError:
            raise InvalidSupplyGraph(f"unknown node id {node!r}") from None

    def inputs(self, node: str) -> dict[str, float]:
        """``node``'s inputs: supplier id → quantity per unit of ``node``."""
        k = self.position(node)
        start, stop = self._q.indptr[k], self._q.indptr[k + 1]
        return {
            self._ids[int(j)]: float(v)
            for j, v in zip(self._q.indices[start:stop], self._q.data[start:stop], strict=True)
        }

    def with_inputs(self, node: str, inputs: Mapping[str, Number]) -> SupplyGraph:
        """A graph in which ``node``'s inputs are replaced by ``inputs`` (supplier id → quantity)."""
        k = self.position(node)
        cols = np.asarray([self.position(s) for s in inputs], dtype=np.int64)
        values = np.asarray([to_float(v, f"quantity {node!r} <- {s!r}") for s, v in inputs.items()], dtype=np.float64)
        _check_quantities(values, cols == k)
        keep = values != 0.0
        cols, values = cols[keep], values[keep]
        order = np.argsort(cols)
        cols, values = cols[order], values[order]
        q = self._q
        start, stop = int(q.indptr[k]), int(q.indptr[k + 1])
        delta = cols.size - (stop - start)
        indptr = q.indptr.astype(np.int64, copy=True)
        indptr[k + 1 :] += delta
        indices = np.concatenate([q.indices[:start], cols.astype(q.indices.dtype), q.indices[stop:]])
        data = np.concatenate([q.data[:start], values, q.data[stop:]])
        new_q = sp.csr_matrix((data, indices, indptr), shape=q.shape)
        new_q.has_sorted_indices = True
        return SupplyGraph(self._ids, self._index, new_q)


def _index(ids: Iterable[str]) -> tuple[tuple[str, ...], dict[str, int]]:
    id_tuple = tuple(ids)
    index = {node: i for i, node in enumerate(id_tuple)}
    if len(index) != len(id_tuple):
        seen: set[str] = set()
        for node in id_tuple:
            if node in seen:
                raise InvalidSupplyGraph(f"repeated node id {node!r}")
            seen.add(node)
    return id_tuple, index


def _check_quantities(values: FloatArray, self_loop: NDArray[np.bool_]) -> None:
    if not np.all(np.isfinite(values)):
        raise InvalidSupplyGraph("quantities must be finite")
    if np.any(values < 0):
        raise InvalidSupplyGraph("quantities must be ≥ 0")
    if np.any(values[self_loop] >= 1.0):
        raise InvalidSupplyGraph("a node cannot consume ≥ 1 unit of its own product per unit")


def _relative(residual: FloatArray, rhs: FloatArray) -> FloatArray:
    """Column-wise ``‖r‖₂ / ‖b‖₂`` (``‖r‖₂`` where ``b = 0``)."""
    r = np.linalg.norm(residual, axis=0)
    b = np.linalg.norm(rhs, axis=0)
    return np.asarray(np.where(b > 0, r / np.where(b > 0, b, 1.0), r), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class _Factorisation:
    """``T`` (block lower-triangular part of the permuted ``A``) factorised, and the permuted ``A``."""

    perm: IntArray  # position in the solver order -> node position
    a: sp.csr_matrix  # permuted A = I - Q
    lu: object  # SuperLU of permuted T
    split: bool  # T != A (large components: iterate)
    tol: float
    max_iterations: int

    def solve(self, b: FloatArray) -> tuple[FloatArray, int, str, float]:
        """Solves ``A x = b`` (``b``: n or n×k, node order); returns x, iterations, method, max residual."""
        bp = b[self.perm]
        lu_solve = self.lu.solve  # type: ignore[attr-defined]
        x: FloatArray = lu_solve(bp)
        method = "lu-splitting" if self.split else "lu"
        residual = _relative(bp - self.a @ x, bp)
        iterations = 0
        # Aim 1000 times below the tolerance (cheap steps, a margin for the forward error); stop earlier when
        # already within the tolerance and no longer gaining (rounding level).
        target = self.tol * 1e-3
        while residual.max() > target and iterations < self.max_iterations:
            x = x + lu_solve(bp - self.a @ x)
            previous, residual = residual.max(), _relative(bp - self.a @ x, bp)
            iterations += 1
            if not np.all(np.isfinite(residual)) or (residual.max() <= self.tol and residual.max() > previous / 2):
                break
        if not residual.max() <= self.tol:
            x, extra = self._gmres(bp, x)
            iterations += extra
            method = "gmres"
            residual = _relative(bp - self.a @ x, bp)
        out = np.empty_like(x)
        out[self.perm] = x
        return out, iterations, method, float(residual.max())

    def _gmres(self, bp: FloatArray, x: FloatArray) -> tuple[FloatArray, int]:
        n = bp.shape[0]
        preconditioner = spla.LinearOperator((n, n), matvec=self.lu.solve, dtype=np.float64)  # type: ignore[attr-defined]
        columns = bp.reshape(n, -1)
        start = np.nan_to_num(x.reshape(n, -1), nan=0.0, posinf=0.0, neginf=0.0)
        result = np.empty_like(columns)
        steps = 0
        for c in range(columns.shape[1]):
            count = [0]

            def tick(_: object, count: list[int] = count) -> None:
                count[0] += 1

            solution, _info = spla.gmres(
                self.a,
                columns[:, c],
                x0=start[:, c],
                M=preconditioner,
                rtol=self.tol / 10,
                atol=0.0,
                restart=50,
                maxiter=max(1, self.max_iterations),
                callback=tick,
                callback_type="pr_norm",
            )
            result[:, c] = solution
            steps = max(steps, count[0])
        return result.reshape(x.shape), steps


def _factorise(graph: SupplyGraph, tol: float, max_iterations: int, max_block: int) -> tuple[_Factorisation, int, int]:
    """Orders, splits and factorises; returns the factorisation, the component count and the largest size."""
    n = graph.size
    q = graph.matrix.tocoo()
    count, labels = connected_components(graph.matrix, directed=True, connection="strong")
    labels = np.asarray(labels, dtype=np.int64)
    # SciPy numbers components in completion order: suppliers' components before their consumers'. Check it,
    # and fall back to an explicit topological order of the condensation if a version ever does otherwise.
    rows = np.asarray(q.row, dtype=np.int64)
    cols = np.asarray(q.col, dtype=np.int64)
    between = labels[rows] != labels[cols]
    if np.any(labels[cols][between] > labels[rows][between]):
        labels = _topological_labels(count, labels[rows][between], labels[cols][between])[labels]
    sizes = np.bincount(labels, minlength=count)
    perm = np.lexsort((np.arange(n), labels)).astype(np.int64)
    where = np.empty(n, dtype=np.int64)
    where[perm] = np.arange(n)
    pr, pc = where[rows], where[cols]
    # A = I - Q in solver order; Q's self-loops land on the diagonal.
    a_rows = np.concatenate([np.arange(n), pr])
    a_cols = np.concatenate([np.arange(n), pc])
    a_vals = np.concatenate([np.ones(n), -np.asarray(q.data, dtype=np.float64)])
    a = sp.csr_matrix((a_vals, (a_rows, a_cols)), shape=(n, n))
    keep = (pc <= pr) | (sizes[labels[rows]] <= max_block)
    split = not bool(np.all(keep))
    t_mask = np.concatenate([np.ones(n, dtype=bool), keep])
    t = sp.csc_matrix((a_vals[t_mask], (a_rows[t_mask], a_cols[t_mask])), shape=(n, n))
    try:
        lu = spla.splu(t, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    except RuntimeError as exc:  # "Factor is exactly singular"
        raise SingularSupplyGraph(f"I - Q is singular: {exc}") from exc
    if not np.array_equal(lu.perm_r, lu.perm_c):
        raise SingularSupplyGraph("I - Q is not a non-singular M-matrix (a zero pivot forced row exchanges)")
    largest = int(sizes.max()) if n else 0
    return _Factorisation(perm, a, lu, split, tol, max_iterations), int(count), largest


def _topological_labels(count: int, consumer: IntArray, supplier: IntArray) -> IntArray:
    """Relabels condensation nodes so that every supplier component precedes its consumers (Kahn, by levels)."""
    pending = np.bincount(consumer, minlength=count)  # inputs from other components not yet placed
    by_supplier = np.argsort(supplier, kind="stable")
    starts = np.searchsorted(supplier[by_supplier], np.arange(count + 1))
    order = np.empty(count, dtype=np.int64)
    frontier = np.flatnonzero(pending == 0)
    placed = 0
    while frontier.size:
        order[placed : placed + frontier.size] = frontier
        placed += frontier.size
        edges = np.concatenate([by_supplier[starts[c] : starts[c + 1]] for c in frontier])
        np.subtract.at(pending, consumer[edges], 1)
        touched = np.unique(consumer[edges])
        frontier = touched[pending[touched] == 0]
    relabel = np.empty(count, dtype=np.int64)
    relabel[order] = np.arange(count)
    return relabel


@dataclass(frozen=True, eq=False)
class _Correction:
    """One Sherman–Morrison row update: ``A_new⁻¹ b = A_old⁻¹ b + u (d · A_old⁻¹ b) / denominator``."""

    u: FloatArray
    columns: IntArray
    values: FloatArray
    denominator: float

    def apply(self, x: FloatArray) -> FloatArray:
        return x + self.u * (float(self.values @ x[self.columns]) / self.denominator)


@dataclass(frozen=True, eq=False)
class Rollup:
    """Footprints of every node (float64, indexed like ``graph.ids``) with how they were obtained.

    ``method``: ``"lu"``, ``"lu-splitting"`` or ``"gmres"`` (see the module doc), with ``" + updates"`` when
    rank-one updates were applied since the last factorisation; ``iterations``: refinement or iteration steps
    of the last solve; ``residual``: ``‖(I − Q) f − e‖₂ / ‖e‖₂`` of these footprints, ≤ ``tolerance``;
    ``amplification``: ``‖(I − Q)⁻¹‖∞``; ``components`` / ``largest_component``: strongly connected components.
    """

    graph: SupplyGraph
    own_emissions: FloatArray
    footprints: FloatArray
    method: str
    iterations: int
    residual: float
    tolerance: float
    amplification: float
    components: int
    largest_component: int
    updates: int
    _factorisation: _Factorisation = field(repr=False)
    _corrections: tuple[_Correction, ...] = field(repr=False)
    _ones: FloatArray = field(repr=False)  # A⁻¹ 1, kept for the amplification under row updates
    _settings: _Settings = field(repr=False)

    @property
    def ids(self) -> tuple[str, ...]:
        return self.graph.ids

    def footprint(self, node: str) -> float:
        """The cradle-to-gate footprint of one unit of ``node``'s product."""
        return float(self.footprints[self.graph.position(node)])

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.graph.ids, self.footprints.tolist(), strict=True))

    def decimal_footprints(self, significant: int = 6) -> dict[str, str]:
        """Footprints as decimal strings rounded half-even to ``significant`` significant digits."""
        return dict(zip(self.graph.ids, decimal_strings(self.footprints.tolist(), significant), strict=True))

    def _solve(self, b: FloatArray) -> FloatArray:
        x, _, _, _ = self._factorisation.solve(b)
        for correction in self._corrections:
            x = correction.apply(x)
        return x

    def _residual(self, graph: SupplyGraph, f: FloatArray, e: FloatArray) -> float:
        return float(_relative((f - graph.matrix @ f - e)[:, None], e[:, None])[0])

    def with_own_emissions(self, node: str, value: Number) -> Rollup:
        """The roll-up after ``node``'s own emission per unit changes to ``value`` (one solve, checked)."""
        k = self.graph.position(node)
        new = to_float(value, f"own emissions of {node!r}")
        e = self.own_emissions.copy()
        change = new - e[k]
        e[k] = new
        unit = np.zeros(self.graph.size)
        unit[k] = 1.0
        f = self.footprints + change * self._solve(unit)
        return self._updated(self.graph, e, f, self._corrections, self._ones, self.amplification)

    def with_inputs(self, node: str, inputs: Mapping[str, Number]) -> Rollup:
        """The roll-up after ``node``'s inputs are replaced by ``inputs`` (Sherman–Morrison, checked)."""
        graph = self.graph.with_inputs(node, inputs)
        if len(self._corrections) >= self._settings.max_updates:
            return _rollup(graph, self.own_emissions, self._settings)
        k = graph.position(node)
        old, new = self.graph.matrix.getrow(k), graph.matrix.getrow(k)
        d = (new - old).tocsr()
        d.sum_duplicates()
        columns = np.asarray(d.indices, dtype=np.int64)
        values = np.asarray(d.data, dtype=np.float64)
        unit = np.zeros(graph.size)
        unit[k] = 1.0
        u = self._solve(unit)
        denominator = 1.0 - float(values @ u[columns])
        if not denominator > 1.0 / self._settings.max_amplification:
            raise SingularSupplyGraph(
                f"the new inputs of {node!r} make I - Q singular or nearly so (1 - dᵀu = {denominator:.3g})"
            )
        correction = _Correction(u, columns, values, denominator)
        f = correction.apply(self.footprints)
        ones = correction.apply(self._ones)
        amplification = float(ones.max()) if ones.size else 0.0
        if not np.all(ones > 0) or amplification > self._settings.max_amplification:
            raise SingularSupplyGraph(f"the new inputs of {node!r} make I - Q singular or nearly so")
        return self._updated(graph, self.own_emissions, f, (*self._corrections, correction), ones, amplification)

    def refreshed(self) -> Rollup:
        """A roll-up of the current graph and emissions from scratch (new factorisation, no updates)."""
        return _rollup(self.graph, self.own_emissions, self._settings)

    def _updated(
        self,
        graph: SupplyGraph,
        e: FloatArray,
        f: FloatArray,
        corrections: tuple[_Correction, ...],
        ones: FloatArray,
        amplification: float,
    ) -> Rollup:
        residual = self._residual(graph, f, e)
        if not residual <= self.tolerance:
            return _rollup(graph, e, self._settings)
        e.flags.writeable = False
        f.flags.writeable = False
        method = self.method if self.method.endswith(" + updates") else self.method + " + updates"
        return Rollup(
            graph,
            e,
            f,
            method,
            0,
            residual,
            self.tolerance,
            amplification,
            self.components,
            self.largest_component,
            self.updates + 1,
            self._factorisation,
            corrections,
            ones,
            self._settings,
        )


@dataclass(frozen=True)
class _Settings:
    tol: float
    max_iterations: int
    max_block: int
    max_amplification: float
    max_updates: int


def rollup(
    graph: SupplyGraph,
    own_emissions: Mapping[str, Number] | Sequence[Number] | FloatArray,
    *,
    tol: float = 1e-10,
    max_iterations: int = 100,
    max_block: int = 64,
    max_amplification: float = 1e12,
    max_updates: int = 32,
) -> Rollup:
    """Cradle-to-gate footprints of every node of ``graph`` in one sparse solve.

    ``own_emissions``: a mapping id → own (gate-to-gate) emission per unit covering every node, or values in
    the order of ``graph.ids``; ``Decimal``, decimal strings, ``int`` and ``float`` are accepted, negative values
    (removals) too. ``tol``: the largest relative residual accepted. ``max_block``: strongly connected
    components up to this size are factorised whole. ``max_amplification``: a larger ``‖(I − Q)⁻¹‖∞`` is
    reported as near-singular. ``max_updates``: row updates kept in product form before re-factorising.

    Raises :class:`InvalidSupplyGraph`, :class:`SingularSupplyGraph` or :class:`RollupNotConverged`.
    """
    if not (tol > 0 and max_iterations >= 0 and max_block >= 1 and max_amplification > 1 and max_updates >= 0):
        raise ValueError("tol and max_amplification must be positive, max_block ≥ 1, counts ≥ 0")
    if isinstance(own_emissions, Mapping):
        missing = [node for node in graph.ids if node not in own_emissions]
        if missing:
            raise InvalidSupplyGraph(f"own emissions missing for {len(missing)} node(s), e.g. {missing[0]!r}")
        unknown = [node for node in own_emissions if node not in graph._index]
        if unknown:
            raise InvalidSupplyGraph(f"own emissions for unknown node id {unknown[0]!r}")
        e = _vector((own_emissions[node] for node in graph.ids), graph.size, "own emissions")
    else:
        e = _vector(own_emissions, graph.size, "own emissions")
    return _rollup(graph, e, _Settings(tol, max_iterations, max_block, max_amplification, max_updates))


def _rollup(graph: SupplyGraph, e: FloatArray, settings: _Settings) -> Rollup:
    n = graph.size
    e = e.copy()
    e.flags.writeable = False
    if n == 0:
        empty = np.zeros(0)
        empty.flags.writeable = False
        factorisation = _Factorisation(
            np.zeros(0, dtype=np.int64), sp.csr_matrix((0, 0)), None, False, settings.tol, settings.max_iterations
        )
        return Rollup(graph, e, empty, "lu", 0, 0.0, settings.tol, 0.0, 0, 0, 0, factorisation, (), empty, settings)
    factorisation, components, largest = _factorise(graph, settings.tol, settings.max_iterations, settings.max_block)
    x, iterations, method, _ = factorisation.solve(np.column_stack([e, np.ones(n)]))
    f = np.ascontiguousarray(x[:, 0])
    ones = np.ascontiguousarray(x[:, 1])
    ones_residual = float(_relative((ones - graph.matrix @ ones - 1.0)[:, None], np.ones((n, 1)))[0])
    if not (np.all(np.isfinite(ones)) and np.all(ones > 0) and ones_residual <= settings.tol):
        raise SingularSupplyGraph(
            "I - Q is not a non-singular M-matrix: the spectral radius of Q is ≥ 1 (a supply cycle returns at "
            "least one unit of a product per unit)"
        )
    amplification = float(ones.max())
    if amplification > settings.max_amplification:
        raise SingularSupplyGraph(
            f"I - Q is nearly singular: ‖(I - Q)⁻¹‖∞ = {amplification:.3g} > {settings.max_amplification:.3g}"
        )
    residual = float(_relative((f - graph.matrix @ f - e)[:, None], e[:, None])[0])
    if not residual <= settings.tol:
        raise RollupNotConverged(f"residual {residual:.3g} above the tolerance {settings.tol:.3g}", residual)
    f.flags.writeable = False
    ones.flags.writeable = False
    return Rollup(
        graph,
        e,
        f,
        method,
        iterations,
        residual,
        settings.tol,
        amplification,
        components,
        largest,
        0,
        factorisation,
        (),
        ones,
        settings,
    )
