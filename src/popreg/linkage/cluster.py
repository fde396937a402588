"""Clustering scored pairs into persons without chaining unrelated people together.

Plain connected components chain: A~B and B~C put A and C together even when A and C
carry two different, checksum-valid ID numbers.  Here pairs are merged strongest first
(union-find, highest match probability first) and a merge is refused when it would put
two distinct checksum-valid 18-digit ID numbers into one cluster, or two records a
reviewer declared different people.  Reviewer-approved pairs are merged first and
unconditionally: a reviewer may decide that one person really holds two numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

_EMPTY: frozenset[str] = frozenset()


class _Forest:
    def __init__(self, record_ids: Sequence[str], valid_ids: Mapping[str, str | None]) -> None:
        self.index = {rid: i for i, rid in enumerate(record_ids)}
        self.parent = list(range(len(record_ids)))
        self.members: list[list[int]] = [[i] for i in range(len(record_ids))]
        # One valid number per record at first (a plain string), a set once merged.
        self.ids: list[frozenset[str] | str | None] = [valid_ids.get(rid) for rid in record_ids]

    def id_set(self, root: int) -> frozenset[str]:
        value = self.ids[root]
        if value is None:
            return _EMPTY
        if isinstance(value, str):
            return frozenset((value,))
        return value

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        if len(self.members[a]) < len(self.members[b]):
            a, b = b, a
        self.parent[b] = a
        self.members[a].extend(self.members[b])
        self.members[b] = []
        self.ids[a] = self.id_set(a) | self.id_set(b)
        self.ids[b] = None


def cluster_pairs(
    record_ids: Sequence[str],
    valid_ids: Mapping[str, str | None],
    pairs: Iterable[tuple[str, str, float]],
    threshold: float,
    *,
    approved: Iterable[tuple[str, str]] = (),
    rejected: Iterable[tuple[str, str]] = (),
    exact: Iterable[tuple[str, str]] = (),
) -> dict[str, str]:
    """``record_id → cluster_id`` for every record (singletons are their own cluster).

    ``exact`` are pairs resolved before any scoring (records that share a checksum-valid
    ID number, :func:`popreg.linkage.exact.exact_pairs`): merged after the reviewer's
    approvals and before the scored pairs, whatever their score, unless a reviewer
    rejected them.

    ``valid_ids`` maps a record to its checksum-valid 18-digit ID number (or ``None``);
    ``pairs`` are ``(record_id_l, record_id_r, match_probability)``; pairs below
    ``threshold`` are ignored.  The cluster id is the smallest record_id of the cluster.
    """
    forest = _Forest(record_ids, valid_ids)
    idx = forest.index
    forbidden: dict[int, set[int]] = {}
    for a, b in rejected:
        if a in idx and b in idx:
            forbidden.setdefault(idx[a], set()).add(idx[b])
            forbidden.setdefault(idx[b], set()).add(idx[a])

    for a, b in approved:
        if a in idx and b in idx:
            ra, rb = forest.find(idx[a]), forest.find(idx[b])
            if ra != rb:
                forest.union(ra, rb)

    for a, b in exact:
        if a in idx and b in idx:
            ra, rb = forest.find(idx[a]), forest.find(idx[b])
            if ra != rb and not (forbidden and _crosses(forest, ra, rb, forbidden)):
                forest.union(ra, rb)

    strong = sorted(
        (p for p in pairs if p[2] >= threshold and p[0] in idx and p[1] in idx),
        key=lambda p: (-p[2], p[0], p[1]),
    )
    for a, b, _prob in strong:
        ra, rb = forest.find(idx[a]), forest.find(idx[b])
        if ra == rb:
            continue
        ids_a, ids_b = forest.id_set(ra), forest.id_set(rb)
        joined = ids_a | ids_b
        if len(joined) > 1 and joined != ids_a and joined != ids_b:
            continue  # would bring together two different valid ID numbers
        if forbidden and _crosses(forest, ra, rb, forbidden):
            continue
        forest.union(ra, rb)

    result: dict[str, str] = {}
    for root in range(len(record_ids)):
        members = forest.members[root]
        if not members:
            continue
        cluster_id = min(record_ids[m] for m in members)
        for m in members:
            result[record_ids[m]] = cluster_id
    return result


def _crosses(forest: _Forest, ra: int, rb: int, forbidden: dict[int, set[int]]) -> bool:
    small, other = (ra, rb) if len(forest.members[ra]) <= len(forest.members[rb]) else (rb, ra)
    for m in forest.members[small]:
        for partner in forbidden.get(m, ()):
            if forest.find(partner) == other:
                return True
    return False
