""""Has someone reported this already?": open issues of a community whose titles share words with a
title being typed, weighed by BM25, found through an index of terms rather than by scanning every title.

A title's terms are its words (portal.words: jieba for Chinese, with the community's estate and building
names kept whole; English words). Each indexed term carries its weight in its title (BM25's term-frequency
part, shorter titles weigh each word more); `issue_term_count` keeps, per community, how many open issues
hold each term, so a rare word (停运, 飞线充电) counts far more than a common one (电梯 in a community of
lifts) or a building number. A lookup is bounded: the draft's strongest terms (at most QUERY_TERMS), one
LIMITed scoring query over their index rows, then the few candidates' own weights to judge how much of the
shorter of the two titles they share."""
import math
from collections import Counter

from sqlalchemy import case, delete, func, insert, select

from portal.extensions import db
from portal.issues.models import OPEN_STATES, Issue, IssueTerm, IssueTermCount
from portal.words import TERM_MAX, words

QUERY_TEXT_MAX = 500  # a query is a title being typed; anything longer is cut, not refused
QUERY_TERMS = 12  # the draft's strongest terms that are looked up
POSTINGS_MAX = 2000  # index rows a lookup reads to find its candidates
CANDIDATES = 30  # the best scores, of which those sharing enough are kept and the top `limit` shown
DOCS = ""  # the issue_term_count row counting a community's indexed issues
K1, B, AVERAGE_TERMS = 1.2, 0.75, 8  # BM25; a title holds about 8 words
MIN_SHARED = 0.2  # of the shorter title's weight, for an issue to count as similar
# Words that say where, not what: two titles sharing only these are not about the same problem.
PLACE_WORDS = frozenset("号 楼 号楼 栋 幢 单元 层 楼层 室 户 小区 社区 门口 楼下 楼上 building floor unit room "
                        "block estate flat apartment".split())
WEAK = 0.3  # what a place word or a number weighs against a word saying what is wrong


def terms(text: str | None, extra_terms=()) -> set[str]:
    """The distinct search terms of a text (portal.words.words), for the issue and proposal indexes."""
    return set(words(text, extra_terms))


def place_terms(community_id: int) -> tuple[str, ...]:
    """The community's estate and building names, kept whole when its texts are split into words."""
    from portal.places.models import Building, Estate
    names = db.session.execute(
        select(Estate.name).where(Estate.community_id == community_id)
        .union_all(select(Building.name).where(Building.community_id == community_id))).scalars()
    return tuple(sorted({n for n in names if n and len(n) > 1}))


def _strength(term: str) -> float:
    return WEAK if term.isdigit() or term in PLACE_WORDS else 1.0


def _idf(term: str, holding: int, docs: int) -> float:
    holding = min(holding, docs)
    return _strength(term) * math.log(1 + (docs - holding + 0.5) / (holding + 0.5))


def weights(found: list[str]) -> dict[str, float]:
    """BM25's term-frequency part of each distinct term of a title."""
    counts = Counter(t[:TERM_MAX] for t in found)
    norm = K1 * (1 - B + B * len(found) / AVERAGE_TERMS)
    return {term: round(n * (K1 + 1) / (n + norm), 4) for term, n in sorted(counts.items())}


def _count(community_id: int, changes: dict[str, int]) -> None:
    """Add to the issue counts of terms (an upsert, safe with two writers)."""
    if not changes:
        return
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    rows = [{"community_id": community_id, "term": t, "issues": n} for t, n in sorted(changes.items())]
    stmt = upsert(IssueTermCount).values(rows)
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=["community_id", "term"], set_={"issues": IssueTermCount.issues + stmt.excluded.issues}))


def index_issue(issue: Issue, extra_terms: tuple[str, ...] | None = None) -> None:
    """Replace the issue's terms with those of its current title and keep the counts of terms true; an
    issue that is no longer open keeps none, so lookups only ever see open issues. Call it after
    reporting, after a title changes and after every change of status. The caller commits."""
    if issue.id is None or issue.community_id is None:
        db.session.flush()
    old = list(db.session.scalars(select(IssueTerm.term).where(IssueTerm.issue_id == issue.id)))
    if old:
        db.session.execute(delete(IssueTerm).where(IssueTerm.issue_id == issue.id))
    new = {}
    if issue.status in OPEN_STATES:
        if extra_terms is None:
            extra_terms = place_terms(issue.community_id)
        new = weights(words(issue.title, extra_terms))
    changes = Counter(dict.fromkeys(new, 1))
    changes.subtract(dict.fromkeys(old, 1))
    if old or new:
        changes[DOCS] = int(bool(new)) - int(bool(old))
    changes = {t: n for t, n in changes.items() if n}
    if new:
        db.session.execute(insert(IssueTerm), [
            {"issue_id": issue.id, "community_id": issue.community_id, "term": t, "weight": w}
            for t, w in new.items()])
    _count(issue.community_id, changes)


def rebuild_index(community_id: int) -> int:
    """Index every open issue of a community again from its title and recount the terms: what the
    maintained index must equal. Returns the number of issues indexed."""
    db.session.execute(delete(IssueTerm).where(IssueTerm.community_id == community_id))
    db.session.execute(delete(IssueTermCount).where(IssueTermCount.community_id == community_id))
    extra = place_terms(community_id)
    rows, counts, docs = [], Counter(), 0
    for issue_id, title in db.session.execute(
            select(Issue.id, Issue.title).where(Issue.community_id == community_id,
                                                Issue.status.in_(OPEN_STATES)).order_by(Issue.id)):
        found = weights(words(title, extra))
        if found:
            docs += 1
            counts.update(found.keys())
            rows.extend({"issue_id": issue_id, "community_id": community_id, "term": t, "weight": w}
                        for t, w in found.items())
    if rows:
        db.session.execute(insert(IssueTerm), rows)
    if docs:
        counts[DOCS] = docs
        db.session.execute(insert(IssueTermCount), [
            {"community_id": community_id, "term": t, "issues": n} for t, n in sorted(counts.items())])
    return docs


def _holding(community_id: int, query_terms: list[str]) -> dict[str, int]:
    return dict(db.session.execute(
        select(IssueTermCount.term, IssueTermCount.issues)
        .where(IssueTermCount.community_id == community_id, IssueTermCount.term.in_([DOCS, *query_terms]))).all())


def scored_open_issues(community, text: str, *, limit: int = 5, exclude_id: int | None = None,
                       extra_terms: tuple[str, ...] | None = None) -> list[tuple[int, float]]:
    """(issue id, similarity 0–1) of up to `limit` open issues most like `text`, best first; similarity is
    the BM25 score of the shared words over the weight of the shorter of the two titles."""
    if extra_terms is None:
        extra_terms = place_terms(community.id)
    query = weights(words((text or "")[:QUERY_TEXT_MAX], extra_terms))
    if not query or all(_strength(t) < 1 for t in query):
        return []  # a building number alone says nothing about the problem
    holding = _holding(community.id, list(query))
    docs = holding.get(DOCS, 0)
    if not docs:
        return []
    idf = {t: _idf(t, holding.get(t, 0), docs) for t in query}
    own = sum(idf[t] * w for t, w in query.items())
    # Only terms some open issue holds can score. Candidates come from the rarest of them, as many as keep
    # the index rows read under POSTINGS_MAX (at least the rarest one), so a draft of common words stays
    # bounded; each candidate's score over every query term is then computed from its own index rows.
    known = sorted((t for t in query if holding.get(t)), key=lambda t: (-idf[t] * query[t], t))[:QUERY_TERMS]
    if not known or own <= 0:
        return []
    selective, postings = [], 0
    for term in sorted(known, key=lambda t: (holding[t], t)):
        if selective and postings + holding[term] > POSTINGS_MAX:
            break
        selective.append(term)
        postings += holding[term]
    by_term = {t: idf[t] for t in selective}
    score = func.sum(IssueTerm.weight * _case(by_term)).label("score")
    stmt = (select(IssueTerm.issue_id)
            .where(IssueTerm.community_id == community.id, IssueTerm.term.in_(selective))
            .group_by(IssueTerm.issue_id)
            .order_by(score.desc(), IssueTerm.issue_id.desc())
            .limit(CANDIDATES))
    if exclude_id is not None:
        stmt = stmt.where(IssueTerm.issue_id != exclude_id)
    ids = list(db.session.scalars(stmt))
    if not ids:
        return []
    # Each candidate's own weight and its shared score, from its index rows and the counts of its terms.
    rows = db.session.execute(
        select(IssueTerm.issue_id, IssueTerm.term, IssueTerm.weight, IssueTermCount.issues)
        .join(IssueTermCount, (IssueTermCount.community_id == IssueTerm.community_id)
              & (IssueTermCount.term == IssueTerm.term))
        .where(IssueTerm.issue_id.in_(ids))).all()
    theirs, shared_by = Counter(), Counter()
    for issue_id, term, weight, count in rows:
        theirs[issue_id] += weight * _idf(term, count, docs)
        if term in idf:
            shared_by[issue_id] += weight * idf[term]
    candidates = [(issue_id, shared_by[issue_id]) for issue_id in ids]
    found = []
    for issue_id, shared in candidates:
        shorter = min(own, theirs.get(issue_id) or own)
        if shorter > 0 and shared / shorter >= MIN_SHARED:
            found.append((issue_id, min(1.0, shared / shorter)))
    found.sort(key=lambda f: (-f[1], -f[0]))
    return found[:max(0, limit)]


def _case(values: dict[str, float]):
    return case(values, value=IssueTerm.term, else_=0.0)


def similar_open_issues(community, text: str, *, limit: int = 5, exclude_id: int | None = None) -> list[Issue]:
    """Up to `limit` open issues of the community most like `text`, best first: most similar by shared
    weighted words, then most supported, then newest. A hidden issue never shows."""
    limit = max(0, min(limit, 20))
    scored = scored_open_issues(community, text, limit=CANDIDATES, exclude_id=exclude_id)
    if not scored:
        return []
    similarity = dict(scored)
    issues = db.session.scalars(
        select(Issue).where(Issue.id.in_(list(similarity)), Issue.community_id == community.id,
                            Issue.status.in_(OPEN_STATES),
                            Issue.hidden_state.is_(None))).all()  # a hidden title must not show while typing
    issues.sort(key=lambda i: (-round(similarity[i.id], 2), -(i.support_count or 0), -i.id))
    return issues[:limit]
