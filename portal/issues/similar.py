""""Has someone reported this already?": open issues of a community whose titles share words with a
title being typed, found through an index of terms rather than by scanning every title.

A title's terms are its English (Latin) words and numbers, and for Chinese — written without spaces —
every pair of neighbouring characters: "电梯坏了" → 电梯, 梯坏. Two titles about the same thing share
several terms; an unrelated title in the same building shares only the building's number."""
import re
import unicodedata

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.issues.models import OPEN_STATES, Issue, IssueTerm

TERM_MAX = 32
QUERY_TEXT_MAX = 500  # a query is a title being typed; anything longer is cut, not refused
CANDIDATES = 200  # the best matches by shared terms, of which the top `limit` are shown

STOP_WORDS = frozenset("""
    a an and are as at be been but by can did do does for from had has have he her his how i if in into is
    it its me my no not of on or our please she so still than that the their them then there these they
    this to too us very was we were what when where which who why will with would you your again also
""".split())

# Particles that carry no topic; dropped so "电梯又坏了" and "电梯坏了" give the same pairs.
CJK_PARTICLES = frozenset("的了又吗呢吧啊呀")

TOKEN = re.compile(
    r"(?P<cjk>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+)"
    r"|(?P<digits>[0-9]+)"
    r"|(?P<word>[a-z\u00c0-\u024f]+)"
)


def terms(text: str | None) -> set[str]:
    """The search terms of a title: lowercased Latin words (two letters or more, stop words out, a
    plural -s dropped), runs of digits, and pairs of neighbouring CJK characters (a lone character
    when a run is one character long)."""
    if not text:
        return set()
    # NFKC folds full-width letters and digits (Ｂ３, ３号楼) into plain ones.
    text = unicodedata.normalize("NFKC", text[:QUERY_TEXT_MAX]).lower()
    found = set()
    for match in TOKEN.finditer(text):
        if run := match.group("cjk"):
            run = "".join(ch for ch in run if ch not in CJK_PARTICLES)
            if len(run) == 1:
                found.add(run)
            found.update(run[i:i + 2] for i in range(len(run) - 1))
        elif digits := match.group("digits"):
            found.add(digits[:TERM_MAX])
        else:
            word = match.group("word")
            if len(word) < 2 or word in STOP_WORDS:
                continue
            if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
                word = word[:-1]  # lifts → lift, leaks → leak
            found.add(word[:TERM_MAX])
    return found


def index_issue(issue: Issue) -> None:
    """Replace the issue's terms with those of its current title; an issue that is no longer open
    keeps none, so lookups only ever count the terms of open issues. Call it after reporting, after
    a title changes and after every change of status (closed, rejected, merged, resolved, reopened).
    The caller commits."""
    if issue.id is None or issue.community_id is None:
        db.session.flush()
    db.session.execute(delete(IssueTerm).where(IssueTerm.issue_id == issue.id))
    if issue.status not in OPEN_STATES:
        return
    rows = [{"issue_id": issue.id, "community_id": issue.community_id, "term": term}
            for term in sorted(terms(issue.title))]
    if rows:
        db.session.execute(insert(IssueTerm), rows)


def similar_open_issues(community, text: str, *, limit: int = 5, exclude_id: int | None = None) -> list[Issue]:
    """Up to `limit` open issues of the community most like `text`, best first: most shared terms,
    then most supported, then newest.

    An issue shows when it shares at least two terms (one, if the text has a single term) and those
    cover more than half of the shorter of the two titles — so a long title does not pull in every
    issue that merely names the same building."""
    query_terms = terms(text)
    if not query_terms or (len(query_terms) == 1 and next(iter(query_terms)).isdigit()):
        return []
    min_shared = 1 if len(query_terms) == 1 else 2

    # Shared terms are counted from the term index alone (which holds open issues only); the issues
    # passing both thresholds, at most CANDIDATES of the best, are then read from `issue` one by one
    # through its primary key, the status checked again. An issue's own number of terms is counted only
    # when the shared terms are not already most of the query's.
    hits = (
        select(IssueTerm.issue_id, func.count().label("shared"))
        .where(IssueTerm.community_id == community.id, IssueTerm.term.in_(sorted(query_terms)))
        .group_by(IssueTerm.issue_id)
        .having(func.count() >= min_shared)
    )
    if exclude_id is not None:
        hits = hits.where(IssueTerm.issue_id != exclude_id)
    hits = hits.subquery("hits")
    own = aliased(IssueTerm)
    size = select(func.count()).where(own.issue_id == hits.c.issue_id).scalar_subquery()
    matches = (
        select(hits.c.issue_id, hits.c.shared)
        .where(or_(2 * hits.c.shared > len(query_terms), 2 * hits.c.shared > size))
        .order_by(hits.c.shared.desc(), hits.c.issue_id.desc())
        .limit(CANDIDATES)
        .cte("matches").prefix_with("MATERIALIZED", dialect="postgresql")
    )
    stmt = (
        select(Issue)
        .join(matches, matches.c.issue_id == Issue.id)
        .where(Issue.community_id == community.id, Issue.status.in_(OPEN_STATES),
               Issue.hidden_state.is_(None))  # a hidden issue's title must not show up while someone types
        .order_by(matches.c.shared.desc(), Issue.support_count.desc(), Issue.submitted_at.desc(),
                  Issue.id.desc())
        .limit(max(0, min(limit, 20)))
    )
    return list(db.session.scalars(stmt))
