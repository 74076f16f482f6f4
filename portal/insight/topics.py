"""Topics of the month (每月一题): at the start of each month (a run-due step), a sub-district's issues of the
last month are grouped by what they say, across its communities and categories, so officials see which
problems residents raised most and which are rising.

How the grouping works:
- Each issue is read as words (portal.words: jieba with the civic dictionary; English words), title and the
  start of its description; numbers, single characters and words that say where (楼, 单元, building …) are
  left out, since two issues in building 3 are not about the same problem.
- TF-IDF (scikit-learn, sublinear term counts, rows normalized to length 1) turns each issue into a vector;
  k-means on those unit vectors (fixed random_state, so a run is reproducible) groups them, with k chosen
  from the data: the fewest candidate k whose silhouette (cosine distance, on a fixed sample of at most
  SILHOUETTE_SAMPLE issues) is within SILHOUETTE_SLACK (a tenth) of the best.
- An issue belongs to the topic whose centre (normalized) is nearest by cosine similarity, if that
  similarity is at least SIMILARITY_MIN; otherwise it is in no topic. A topic needs MIN_ISSUES issues.
- Trend: the six months to the topic's month are counted by the same rule: the earlier months' issues are
  read with the same vocabulary and weights and counted for the nearest topic centre at or above
  SIMILARITY_MIN. So the last figure of the trend is the topic's count.
- Top words: the heaviest words of the centre (a compound stands for its parts: 飞线充电, not 飞线 and 充电);
  the representative issue is the member nearest the centre.

The run is idempotent: a TopicRun marks a sub-district's month as done, and a second run-due in the same
month does nothing."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from portal.clock import utcnow
from portal.dashboard.rollups import month_number
from portal.due import due_step
from portal.extensions import db
from portal.insight.models import Topic, TopicIssue, TopicRun
from portal.issues.models import Issue, IssueCategory
from portal.issues.similar import PLACE_WORDS
from portal.places.models import Community, SubDistrict
from portal.words import words

if TYPE_CHECKING:
    from collections.abc import Iterable

TREND_MONTHS = 6
SIMILARITY_MIN = 0.2
MIN_ISSUES = 2
MAX_TOPICS = 30
PER_TOPIC = 3  # at most one topic for every 3 issues of the month: a topic is a problem many raised
TOP_WORDS = 5
DESCRIPTION_READ = 200  # characters of the description read beside the title
SILHOUETTE_SAMPLE = 2000
SILHOUETTE_SLACK = 0.1  # a fraction of the best silhouette
LARGE = 2000  # from this many issues a month, each k-means starts once (its k-means++ start is good enough)
CANDIDATE_KS = (2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30)
RANDOM_STATE = 0


@dataclass(frozen=True)
class IssueText:
    id: int
    community_id: int
    category_code: str | None
    month: int
    terms: tuple[str, ...]


def topic_terms(text: str, cache: dict | None = None) -> tuple[str, ...]:
    """The words of an issue that say what it is about: no numbers, no words of place, no single characters
    (jieba leaves an unknown run as single characters: 单, 工, 热 say little on their own)."""
    if cache is not None and text in cache:
        return cache[text]
    found = tuple(t for t in words(text) if len(t) > 1 and not t.isdigit() and t not in PLACE_WORDS)
    if cache is not None:
        cache[text] = found
    return found


def issue_text(title: str | None, description: str | None) -> str:
    return f"{title or ''} {(description or '')[:DESCRIPTION_READ]}"


def month_issues(communities: Iterable[Community], months: Iterable[int], *, cache: dict | None = None,
                 where: Iterable = ()) -> dict[int, list[IssueText]]:
    """{month: its issues} of the communities (duplicates left out), months by submission in each
    community's zone, read in one statement; `where` narrows the statement further (a programme's rule)."""
    from portal.insight.services import month_start
    zones = {c.id: c.time_zone for c in communities}
    months = sorted(set(months))
    found: dict[int, list[IssueText]] = {m: [] for m in months}
    if not zones or not months:
        return found
    first = datetime.combine(month_start(months[0]), datetime.min.time(), UTC)
    last = datetime.combine(month_start(months[-1] + 1), datetime.min.time(), UTC)
    rows = db.session.execute(
        db.select(Issue.id, Issue.community_id, IssueCategory.code, Issue.title,
                  db.func.substr(Issue.description, 1, DESCRIPTION_READ), Issue.submitted_at)
        .join(IssueCategory, IssueCategory.id == Issue.category_id, isouter=True)
        .where(Issue.community_id.in_(list(zones)), Issue.status != "duplicate",
               Issue.submitted_at >= first - timedelta(days=1), Issue.submitted_at < last + timedelta(days=1),
               *where)
        .order_by(Issue.id))
    cache = {} if cache is None else cache
    for issue_id, community_id, code, title, description, at in rows:
        month = month_number(at, zones[community_id])
        if month in found:
            found[month].append(IssueText(issue_id, community_id, code, month,
                                          topic_terms(issue_text(title, description), cache)))
    return found


# --- grouping ----------------------------------------------------------------------------------------------

@dataclass
class Grouping:
    """The outcome of grouping one month: per topic its member indexes (into the month's issues), centre,
    top words and representative index; and the fitted vectorizer to read other months with."""
    members: list[list[int]]
    centres: np.ndarray
    top_words: list[list[str]]
    representatives: list[int]
    vectorizer: object


def _vectorize(documents: list[tuple[str, ...]]):
    from sklearn.feature_extraction.text import TfidfVectorizer
    vectorizer = TfidfVectorizer(analyzer=lambda terms: terms, sublinear_tf=True, norm="l2",
                                 min_df=2 if len(documents) >= 50 else 1)
    return vectorizer, vectorizer.fit_transform(documents)


def _choose_k(x, distinct: int) -> tuple[int, np.ndarray]:
    """(k, labels) of the k-means whose silhouette (cosine) is best among the candidates."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    ks = [k for k in CANDIDATE_KS if k < distinct and k <= MAX_TOPICS and k <= x.shape[0] // PER_TOPIC]
    if not ks:
        return 1, np.zeros(x.shape[0], dtype=int)
    sample = min(x.shape[0], SILHOUETTE_SAMPLE)
    scored = []
    for k in ks:
        labels = KMeans(n_clusters=k, n_init=1 if x.shape[0] >= LARGE else 3,
                        random_state=RANDOM_STATE).fit_predict(x)
        if len(set(labels)) < 2:
            continue
        score = silhouette_score(x, labels, metric="cosine", sample_size=sample, random_state=RANDOM_STATE)
        scored.append((float(score), k, labels))
    if not scored:
        return 1, np.zeros(x.shape[0], dtype=int)
    # The fewest topics whose silhouette is within SILHOUETTE_SLACK of the best: of near-equal groupings the
    # coarser reads better (one topic of lift complaints rather than one per way of saying it).
    best = max(score for score, _k, _labels in scored)
    _score, k, labels = next(item for item in scored if item[0] >= best * (1 - SILHOUETTE_SLACK))
    return k, labels


def _normalized(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def _top_words(centre: np.ndarray, vocabulary: np.ndarray) -> list[str]:
    """The centre's heaviest words. A compound and its parts (飞线充电, 飞线, 充电) show as the compound when
    it weighs at least half its heaviest part (it is as common in the topic), else as the part alone."""
    kept: list[tuple[str, float]] = []
    for index in np.argsort(-centre, kind="stable")[:TOP_WORDS * 4]:
        weight = float(centre[index])
        if weight <= 0:
            break
        word = str(vocabulary[index])
        if any(word in other for other, _w in kept):
            continue
        parts = [i for i, (other, _w) in enumerate(kept) if other in word]
        if not parts:
            kept.append((word, weight))
        elif weight >= 0.5 * kept[parts[0]][1]:
            kept[parts[0]] = (word, kept[parts[0]][1])
            kept = [k for i, k in enumerate(kept) if i not in parts[1:]]
    return [word for word, _w in kept[:TOP_WORDS]]


def group(documents: list[tuple[str, ...]]) -> Grouping | None:
    """Group the documents (each a tuple of terms) into topics; None when there is nothing to group."""
    readable = [i for i, d in enumerate(documents) if d]
    if len(readable) < MIN_ISSUES:
        return None
    vectorizer, x = _vectorize(documents)
    nonzero = np.asarray(x.getnnz(axis=1)).ravel() > 0
    if nonzero.sum() < MIN_ISSUES:
        return None
    rows = np.flatnonzero(nonzero)
    distinct = len({tuple(x[i].indices) for i in rows[:5000]}) if len(rows) else 0
    k, labels = _choose_k(x[rows], distinct)
    centres = _normalized(np.vstack([np.asarray(x[rows[labels == c]].mean(axis=0)).ravel() for c in range(k)]))
    similarity = np.asarray(x @ centres.T)
    nearest = similarity.argmax(axis=1)
    best = similarity[np.arange(len(documents)), nearest]
    vocabulary = vectorizer.get_feature_names_out()
    members, kept_centres, tops, representatives = [], [], [], []
    for c in range(k):
        inside = [int(i) for i in np.flatnonzero((nearest == c) & (best >= SIMILARITY_MIN))]
        if len(inside) < MIN_ISSUES:
            continue
        members.append(inside)
        kept_centres.append(centres[c])
        tops.append(_top_words(centres[c], vocabulary))
        representatives.append(max(inside, key=lambda i: (round(float(best[i]), 9), -i)))
    if not members:
        return None
    return Grouping(members, np.vstack(kept_centres), tops, representatives, vectorizer)


def assign(grouping: Grouping, documents: list[tuple[str, ...]]) -> list[int]:
    """Per topic, how many of `documents` (another month's issues) have it as their nearest centre at or
    above SIMILARITY_MIN."""
    counts = [0] * len(grouping.members)
    if not documents:
        return counts
    x = grouping.vectorizer.transform(documents)
    similarity = np.asarray(x @ grouping.centres.T)
    nearest = similarity.argmax(axis=1)
    best = similarity[np.arange(len(documents)), nearest]
    for topic in nearest[best >= SIMILARITY_MIN]:
        counts[int(topic)] += 1
    return counts


# --- the monthly run ---------------------------------------------------------------------------------------

def sub_district_month(sub_district: SubDistrict, now: datetime | None = None) -> int:
    """The current month of the sub-district: the latest of its communities' (they share a zone in practice)."""
    from portal.insight.services import current_month
    return max((current_month(c, now) for c in sub_district.communities), default=month_number(now or utcnow(),
                                                                                                None))


def compute_topics(sub_district: SubDistrict, month: int, *, now: datetime | None = None) -> TopicRun:
    """Group the sub-district's issues of `month` into topics and store them with their trend, replacing
    any topics of that month not yet chosen as the month's problem or opened as a programme (those are
    kept as they were), and mark the run."""
    now = now or utcnow()
    communities = list(sub_district.communities)
    cache: dict = {}
    by_month = month_issues(communities, range(month - TREND_MONTHS + 1, month + 1), cache=cache)
    issues = by_month[month]
    _clear(sub_district, month)
    grouping = group([i.terms for i in issues])
    stored = 0
    if grouping is not None:
        earlier = {m: assign(grouping, [i.terms for i in by_month[m]]) for m in range(month - TREND_MONTHS + 1,
                                                                                      month)}
        for t, inside in enumerate(grouping.members):
            chosen = [issues[i] for i in inside]
            codes = Counter(i.category_code for i in chosen if i.category_code)
            topic = Topic(sub_district_id=sub_district.id, month=month, words=" ".join(grouping.top_words[t])[:200],
                          representative_id=issues[grouping.representatives[t]].id, issues=len(chosen),
                          community_ids=sorted({i.community_id for i in chosen}),
                          category_code=min(codes, key=lambda c: (-codes[c], c)) if codes else None,
                          trend=[earlier[m][t] for m in sorted(earlier)] + [len(chosen)])
            db.session.add(topic)
            db.session.flush()
            db.session.execute(db.insert(TopicIssue), [{"topic_id": topic.id, "issue_id": i.id} for i in chosen])
            stored += 1
    run = db.session.get(TopicRun, (sub_district.id, month)) or TopicRun(sub_district_id=sub_district.id,
                                                                         month=month)
    run.computed_at, run.issues, run.topics = now, len(issues), stored
    db.session.add(run)
    db.session.flush()
    return run


def _clear(sub_district: SubDistrict, month: int) -> None:
    """Remove the month's earlier topics that nothing points at (a recomputation by hand)."""
    from portal.insight.models import MonthProblem, Programme
    held = set(db.session.scalars(db.select(MonthProblem.topic_id).where(
        MonthProblem.sub_district_id == sub_district.id))) | set(db.session.scalars(
            db.select(Programme.topic_id).where(Programme.sub_district_id == sub_district.id,
                                                Programme.topic_id.is_not(None))))
    stale = [t for t in db.session.scalars(db.select(Topic.id).where(
        Topic.sub_district_id == sub_district.id, Topic.month == month)) if t not in held]
    if stale:
        db.session.execute(db.delete(TopicIssue).where(TopicIssue.topic_id.in_(stale)))
        db.session.execute(db.delete(Topic).where(Topic.id.in_(stale)))


@due_step("insight_topics")
def run_topics(now: datetime) -> int:
    """At the start of each month, once per sub-district: the topics of the month just ended. Returns the
    number of sub-districts grouped."""
    done = 0
    for sub_district in db.session.scalars(db.select(SubDistrict).order_by(SubDistrict.id)).all():
        if not sub_district.communities:
            continue
        month = sub_district_month(sub_district, now) - 1
        if db.session.get(TopicRun, (sub_district.id, month)) is None:
            compute_topics(sub_district, month, now=now)
            done += 1
    return done
