"""How the embedded store keeps its segments: when they are merged (a pure plan over their row
counts) and when one gets an approximate index. No files and no FAISS here: the settings and the
store registry import this module.

Only neighbouring segments are merged, and a merge keeps its rows in order, so the index's chunk
order (and with it every tie between equal scores) is the same before and after.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MergePolicy:
    """When a commit also merges segments (the values come from ``Settings``).

    :param max_segments: more live segments than this and the newest ones are merged.
    :param max_dead_share: a segment with a larger share of dead rows is rewritten without them.
    """

    max_segments: int
    max_dead_share: float


@dataclass(frozen=True)
class AnnPolicy:
    """When a segment gets a persisted HNSW index, and how it is searched (the values come from ``Settings``).

    :param min_rows: a segment written with at least this many rows gets one.
    :param m: HNSW links per node.
    :param ef_construction: HNSW candidate list while building.
    :param ef_search: HNSW candidate list while searching (raised to the candidates asked for).
    :param oversample: candidates asked for per result wanted; they are re-scored exactly.
    :param exact_rows: a filtered search over at most this many rows scores them all exactly.
    """

    min_rows: int
    m: int
    ef_construction: int
    ef_search: int
    oversample: int
    exact_rows: int


@dataclass(frozen=True)
class SegmentShape:
    """What the plan needs of one segment: its rows, how many are dead, and whether it must be written
    (a commit's new rows, a format 2 generation, a large segment still without the approximate index
    the policy asks for)."""

    rows: int
    dead: int
    must_write: bool = False

    @property
    def live(self) -> int:
        return self.rows - self.dead


@dataclass(frozen=True)
class CompactReport:
    """What ``rag compact`` did."""

    segments_before: int
    segments_after: int
    dead_rows_dropped: int
    rows: int
    seconds: float


def plan_merges(shapes: list[SegmentShape], policy: MergePolicy | None) -> list[range]:
    """The runs of neighbouring segments to write as one new segment each, in order and disjoint.

    Segments that must be written are always in a run. With no
    policy nothing else is merged. Otherwise a segment whose dead share exceeds the policy's is
    rewritten alone, and past ``max_segments`` the newest segments are merged: at least enough of
    them to get back to the limit, and further back while the next older segment is no larger than
    what is being merged, so that sizes decrease from oldest to newest and a row is rewritten about
    log(rows) times over the index's life rather than at every commit.
    """
    runs = [range(i, i + 1) for i, shape in enumerate(shapes)
            if shape.must_write or (policy is not None and shape.rows and shape.dead / shape.rows > policy.max_dead_share)]
    if policy is None or len(shapes) <= policy.max_segments:
        return runs
    start = max(policy.max_segments - 1, 0)
    merged = sum(shape.live for shape in shapes[start:])
    while start > 0 and shapes[start - 1].live <= merged:
        start -= 1
        merged += shapes[start].live
    return [run for run in runs if run.stop <= start] + [range(start, len(shapes))]


def merge_all(shapes: list[SegmentShape]) -> list[range]:
    """The plan of ``rag compact``: one segment without dead rows (nothing to do if that is the case already)."""
    if len(shapes) == 1 and not shapes[0].dead and not shapes[0].must_write:
        return []
    return [range(0, len(shapes))] if shapes else []
