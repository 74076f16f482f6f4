"""Keeping `IssueMonthCount` exact in the same transaction as every change of an issue, as
portal.dashboard.rollups keeps its rollups: `before_flush` reads the buckets the changing issues leave,
`after_flush` the buckets they enter, and the difference is upserted as increments in key order (two
transactions touching one bucket both count and cannot deadlock). Bulk UPDATE / DELETE statements on the
issue table are followed through `do_orm_execute`; a community's time zone change rebuilds its counts.
Writers that bypass the session (the demo's and the bench's bulk loads) call `rebuild_month_counts()`."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.dashboard.rollups import IssueWatch, month_number
from portal.extensions import db
from portal.insight.models import PROACTIVE_SOURCES, IssueMonthCount
from portal.issues.models import Issue
from portal.places.models import Community

COUNTED = ("status", "community_id", "category_id", "submitted_at", "source")
_CHUNK = 500


def bucket(row, zone_name) -> tuple | None:
    """((community, category, month), proactive 0/1) of one issue row, None for a duplicate."""
    if row.status == "duplicate":
        return None
    return ((row.community_id, row.category_id, month_number(row.submitted_at, zone_name)),
            int(row.source in PROACTIVE_SOURCES))


def _rows_stmt():
    return (select(Issue.id, *[getattr(Issue, c) for c in COUNTED], Community.time_zone)
            .join(Community, Community.id == Issue.community_id))


def _read(conn, ids) -> dict:
    out, ids = {}, sorted(set(ids))
    for i in range(0, len(ids), _CHUNK):
        for row in conn.execute(_rows_stmt().where(Issue.id.in_(ids[i:i + _CHUNK]))):
            out[row.id] = bucket(row, row.time_zone)
    return out


def _upsert(conn, deltas) -> None:
    rows = [dict(community_id=k[0], category_id=k[1], month=k[2], issues=v[0], proactive=v[1])
            for k, v in sorted(deltas.items()) if any(v)]
    if not rows:
        return
    table = IssueMonthCount.__table__
    stmt = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)
    stmt = stmt.on_conflict_do_update(index_elements=["community_id", "category_id", "month"],
                                      set_={c: table.c[c] + stmt.excluded[c] for c in ("issues", "proactive")})
    conn.execute(stmt, rows)


def _add(deltas, found: dict, sign: int) -> None:
    for value in found.values():
        if value is not None:
            key, proactive = value
            deltas[key][0] += sign
            deltas[key][1] += sign * proactive


def apply_changes(conn, before: dict, ids) -> None:
    deltas = defaultdict(lambda: [0, 0])
    _add(deltas, before, -1)
    _add(deltas, _read(conn, ids), +1)
    _upsert(conn, deltas)


def rebuild_month_counts(community_ids=None) -> int:
    """Recompute the counts from the issues (all communities, or those listed) in the current transaction;
    returns the number of issues counted."""
    conn = db.session.connection()
    return _rebuild(conn, community_ids)


def _rebuild(conn, community_ids=None) -> int:
    stmt = _rows_stmt().where(Issue.status != "duplicate")
    wipe = delete(IssueMonthCount.__table__)
    if community_ids is not None:
        community_ids = list(community_ids)
        stmt = stmt.where(Issue.community_id.in_(community_ids))
        wipe = wipe.where(IssueMonthCount.__table__.c.community_id.in_(community_ids))
    conn.execute(wipe)
    totals = defaultdict(lambda: [0, 0])
    counted, last = 0, 0
    while True:
        page = conn.execute(stmt.where(Issue.id > last).order_by(Issue.id).limit(5000)).all()
        if not page:
            break
        _add(totals, {row.id: bucket(row, row.time_zone) for row in page}, +1)
        counted += len(page)
        last = page[-1].id
    _upsert(conn, totals)
    return counted


def month_counts_direct(community_ids) -> dict[tuple, tuple[int, int]]:
    """{(community, category, month): (issues, proactive)} straight from the issues (the tests' reference)."""
    totals = defaultdict(lambda: [0, 0])
    rows = db.session.execute(_rows_stmt().where(Issue.community_id.in_(list(community_ids)))).all()
    _add(totals, {row.id: bucket(row, row.time_zone) for row in rows}, +1)
    return {k: tuple(v) for k, v in totals.items() if v[0]}


# --- session events ---------------------------------------------------------------------------------------

_watch = IssueWatch("insight.month", COUNTED, _read, apply_changes, _rebuild, (IssueMonthCount.__table__,))


def listen() -> None:
    """Register the session events (idempotent; called when the app is created)."""
    _watch.listen()
