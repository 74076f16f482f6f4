"""The month's problem (每月一题) and programmes (专项): officials pick one of the month's topics as the
problem of the month, and open a programme — from a topic or from scratch — with a named target on the
issues matching its rule, the actions that serve it across communities, and its monthly figure.

Matching rule of a programme: an issue of one of its communities (duplicates left out) whose category has
the programme's category code, when one is set, and whose words (portal.insight.topics.topic_terms of its
title and the start of its description) hold at least one of the programme's words, when words are set.
Its monthly figure is the number of matching issues submitted in the month (the community's zone).

Target: cut the monthly figure by a percentage within some months: target = baseline × (100 − cut) / 100,
rounded down, by the target month (start month + months). Baseline: the topic's count when opened from a
topic, else the rule's figure of the last full month. After the target month a run-due step settles an
open programme: achieved when the target month's figure is at or below the target, else missed. Officials
may close a programme (stopped) or set its status by hand; every change is audited."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import force_locale, lazy_pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.actions.models import Action
from portal.actions.services import create_action
from portal.audit.services import record
from portal.auth import permissions
from portal.clock import in_zone, utcnow
from portal.committees.models import Organization
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.i18n import default_language
from portal.insight import effects
from portal.insight.models import PROGRAMME_STATES, MonthProblem, Programme, ProgrammeCommunity, Topic
from portal.insight.topics import month_issues, sub_district_month, topic_terms
from portal.issues.models import Issue, IssueCategory
from portal.places.models import Community, SubDistrict

if TYPE_CHECKING:
    from collections.abc import Iterable

    from portal.auth.models import User

NAME_MAX = 120
WORDS_MAX = 200
FIGURE_BEFORE = 6  # months shown before a programme's start
MONTHS_MAX = 24
PUBLIC_PROGRAMMES = 5  # on a community's public statistics page
STATE_LABELS = {"open": lazy_pgettext("programme", "Open"), "achieved": lazy_pgettext("programme", "Achieved"),
                "missed": lazy_pgettext("programme", "Missed"), "closed": lazy_pgettext("programme", "Closed")}


# --- the month's problem -----------------------------------------------------------------------------------

def month_problem(sub_district: SubDistrict, month: int) -> MonthProblem | None:
    return db.session.get(MonthProblem, (sub_district.id, month))


def pick_month_problem(actor: User, topic: Topic, *, now: datetime | None = None) -> MonthProblem:
    """Make `topic` the month's problem of its sub-district and month (replacing an earlier pick)."""
    sub_district = db.session.get(SubDistrict, topic.sub_district_id)
    if not permissions.can_pick_month_problem(actor, sub_district):
        raise NotAllowed(_l("Only the sub-district's officials pick the month's problem."))
    now = now or utcnow()
    problem = month_problem(sub_district, topic.month)
    before = problem.topic_id if problem is not None else None
    if before == topic.id:
        return problem
    if problem is None:
        problem = MonthProblem(sub_district_id=sub_district.id, month=topic.month)
        db.session.add(problem)
    problem.topic_id, problem.chosen_by_id, problem.chosen_at = topic.id, actor.id, now
    db.session.flush()
    record(actor, "topic.month_problem", topic, sub_district_id=sub_district.id, previous_topic_id=before)
    return problem


# --- the month's topics, ranked ----------------------------------------------------------------------------

@dataclass(frozen=True)
class TopicRow:
    topic: Topic
    rise: float  # this month against the mean of the five before
    communities: list[Community]
    programme: Programme | None  # an open programme whose rule covers the topic
    is_problem: bool


def rise(trend: list[int]) -> float:
    earlier = trend[:-1]
    return round(trend[-1] - sum(earlier) / len(earlier), 1) if earlier else 0.0


CJK_WORD = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]+")


def rule_prefilter(programme: Programme) -> list:
    """SQL conditions every issue under the programme's rule meets, so its figure reads (and splits into
    words) only the candidates instead of every issue of its months: the category exactly, and — when every
    word of the rule is Chinese characters, which words() keeps as they are written — one of the words
    appearing in the title or the description (a superset: `matches` then checks the words exactly). A Latin
    or digit word is folded by words() (case, full-width forms, plurals), so then the words are checked by
    `matches` alone."""
    conditions = []
    if programme.category_code:
        conditions.append(IssueCategory.code == programme.category_code)
    wanted = programme.word_list
    if wanted and all(CJK_WORD.fullmatch(w) for w in wanted):
        conditions.append(db.or_(*(db.or_(Issue.title.contains(w, autoescape=True),
                                          Issue.description.contains(w, autoescape=True)) for w in wanted)))
    return conditions


def matches(programme: Programme, category_code: str | None, terms: Iterable[str]) -> bool:
    """Whether an issue (its category code and words) falls under the programme's rule."""
    if programme.category_code and category_code != programme.category_code:
        return False
    wanted = set(programme.word_list)
    return not wanted or bool(wanted & set(terms))


def ranked_topics(sub_district: SubDistrict, month: int, *, order: str = "count") -> list[TopicRow]:
    """The month's topics, by count (or by rise), each with its communities, whether it is the month's
    problem and the open programme covering it (opened from it, or whose rule matches its representative
    issue in one of its communities)."""
    topics = db.session.scalars(db.select(Topic).where(Topic.sub_district_id == sub_district.id,
                                                       Topic.month == month)
                                .options(db.joinedload(Topic.representative).joinedload(Issue.category))).all()
    communities = {c.id: c for c in sub_district.communities}
    problem = month_problem(sub_district, month)
    open_programmes = programmes(sub_district, status="open", with_communities=True)
    covered = {p.id: {c.id for c in p.communities} for p in open_programmes}
    rows = []
    for topic in topics:
        representative = topic.representative
        terms = topic_terms(f"{representative.title} {(representative.description or '')[:200]}")
        code = representative.category.code if representative.category is not None else None
        covering = next((p for p in open_programmes if p.topic_id == topic.id or (
            representative.community_id in covered[p.id] and matches(p, code, terms))), None)
        rows.append(TopicRow(topic, rise(topic.trend), [communities[i] for i in topic.community_ids
                                                        if i in communities],
                             covering, problem is not None and problem.topic_id == topic.id))
    if order == "rise":
        rows.sort(key=lambda r: (-r.rise, -r.topic.issues, r.topic.id))
    else:
        rows.sort(key=lambda r: (-r.topic.issues, -r.rise, r.topic.id))
    return rows


def topic_months(sub_district: SubDistrict) -> list[int]:
    """The months that have topics, newest first."""
    return db.session.scalars(db.select(Topic.month).where(Topic.sub_district_id == sub_district.id)
                              .distinct().order_by(Topic.month.desc())).all()


# --- programmes --------------------------------------------------------------------------------------------

def programmes(sub_district: SubDistrict, *, status: str | None = None,
               with_communities: bool = False) -> list[Programme]:
    stmt = db.select(Programme).where(Programme.sub_district_id == sub_district.id).order_by(Programme.id.desc())
    if with_communities:  # each programme's communities in one more statement, not one per programme
        stmt = stmt.options(db.selectinload(Programme.communities))
    if status is not None:
        stmt = stmt.where(Programme.status == status)
    return db.session.scalars(stmt).all()


def category_codes(sub_district: SubDistrict) -> list[tuple[str, str]]:
    """[(code, a name)] of the categories of the sub-district's communities, one per code."""
    from portal.issues.services import category_label
    found: dict[str, str] = {}
    for category in db.session.scalars(db.select(IssueCategory).join(Community).where(
            Community.sub_district_id == sub_district.id, IssueCategory.is_active.is_(True))
            .order_by(IssueCategory.id)):
        found.setdefault(category.code, category_label(category))
    return sorted(found.items(), key=lambda item: item[1])


def _rule_words(text: str) -> str:
    kept = []
    for word in (text or "").replace(",", " ").replace("，", " ").replace("、", " ").split():
        word = word.strip().lower()
        if word and word not in kept:
            kept.append(word)
    joined = " ".join(kept)
    if len(joined) > WORDS_MAX:
        raise DomainError(_l("Keep the words under %(n)d characters.", n=WORDS_MAX), "words")
    return joined


def open_programme(actor: User, sub_district: SubDistrict, *, name: str, communities: list[Community],
                   category_code: str | None = None, words: str = "", cut_percent: int = 50, months: int = 3,
                   topic: Topic | None = None, now: datetime | None = None) -> Programme:
    """Open a programme from a topic or from scratch (see the module's note on the rule and the target)."""
    if not permissions.can_manage_programmes(actor, sub_district):
        raise NotAllowed(_l("Only the sub-district's officials open programmes."))
    now = now or utcnow()
    name = (name or "").strip()
    if not name:
        raise DomainError(_l("Give the programme a name."), "name")
    if len(name) > NAME_MAX:
        raise DomainError(_l("Keep it under %(n)d characters.", n=NAME_MAX), "name")
    category_code = (category_code or "").strip() or None
    if category_code is not None and category_code not in dict(category_codes(sub_district)):
        raise DomainError(_l("Choose one of the categories."), "category")
    words = _rule_words(words)
    if category_code is None and not words:
        raise DomainError(_l("Say which issues count: a category, words, or both."), "words")
    if not communities or any(c.sub_district_id != sub_district.id for c in communities):
        raise DomainError(_l("Choose at least one community of the sub-district."), "communities")
    if not isinstance(cut_percent, int) or not 1 <= cut_percent <= 100:
        raise DomainError(_l("Give the cut as a percentage from 1 to 100."), "cut_percent")
    if not isinstance(months, int) or not 1 <= months <= MONTHS_MAX:
        raise DomainError(_l("Give the months as a number from 1 to %(n)d.", n=MONTHS_MAX), "months")
    if topic is not None and topic.sub_district_id != sub_district.id:
        raise DomainError(_l("That topic is of another sub-district."), "topic")
    start = sub_district_month(sub_district, now)
    programme = Programme(sub_district_id=sub_district.id, topic_id=topic.id if topic is not None else None,
                          name=name, category_code=category_code, words=words, baseline=0, target=0,
                          start_month=start, target_month=start + months, status="open", created_by_id=actor.id,
                          created_at=now)
    programme.communities = sorted(communities, key=lambda c: c.id)
    baseline = topic.issues if topic is not None else programme_monthly_counts(programme, [start - 1])[start - 1]
    programme.baseline = baseline
    programme.target = baseline * (100 - cut_percent) // 100
    db.session.add(programme)
    db.session.flush()
    record(actor, "programme.opened", programme, sub_district_id=sub_district.id, topic_id=programme.topic_id,
           baseline=programme.baseline, target=programme.target)
    return programme


def programme_monthly_counts(programme: Programme, months: Iterable[int]) -> dict[int, int]:
    """{month: issues matching the programme's rule in its communities, submitted in that month} for each
    month asked (zeros included). A plain function: others (effects, public pages) reuse it."""
    months = sorted(set(months))
    counts = dict.fromkeys(months, 0)
    if not months or not programme.communities:
        return counts
    for month, issues in month_issues(programme.communities, months, where=rule_prefilter(programme)).items():
        counts[month] = sum(1 for i in issues if matches(programme, i.category_code, i.terms))
    return counts


@dataclass(frozen=True)
class ProgrammeIssues:
    """The issues related to an action of source "programme" for its before/after (portal/insight/effects.py):
    those matching the programme's rule in the action's own community."""
    programme_id: int
    community_id: int

    @staticmethod
    def count_many(items: list[ProgrammeIssues], first: int, last: int) -> list[dict[int, int]]:
        months = range(first, last + 1)
        out = []
        for item in items:
            programme = db.session.get(Programme, item.programme_id)
            issues = month_issues([db.session.get(Community, item.community_id)], months,
                                  where=rule_prefilter(programme))
            out.append({m: sum(1 for i in issues[m] if matches(programme, i.category_code, i.terms))
                        for m in months})
        return out


def _programme_related(action: Action) -> ProgrammeIssues | None:
    return ProgrammeIssues(action.programme_id, action.community_id) if action.programme_id else None


effects.register_related("programme", _programme_related)


def community_programmes(community: Community, *, now: datetime | None = None) -> list[tuple[Programme, Figure]]:
    """The programmes covering the community, open ones first, then the settled ones newest first, each with
    its figure: the public statistics page (居务公开) shows them (a programme's name, rule, target and counts
    are no personal data)."""
    found = db.session.scalars(
        db.select(Programme).join(ProgrammeCommunity, ProgrammeCommunity.programme_id == Programme.id)
        .where(ProgrammeCommunity.community_id == community.id)
        .order_by((Programme.status != "open"), Programme.start_month.desc(), Programme.id.desc())
        .limit(PUBLIC_PROGRAMMES)).all()
    return [(p, programme_figure(p, now=now)) for p in found]


@dataclass(frozen=True)
class Figure:
    months: list[int]
    counts: dict[int, int]
    current: int  # the month in progress (its figure is so far)


def programme_figure(programme: Programme, *, now: datetime | None = None) -> Figure:
    """The programme's monthly figure from FIGURE_BEFORE months before its start to now."""
    sub_district = db.session.get(SubDistrict, programme.sub_district_id)
    current = sub_district_month(sub_district, now)
    months = list(range(programme.start_month - FIGURE_BEFORE, max(current, programme.start_month) + 1))
    return Figure(months, programme_monthly_counts(programme, months), current)


def set_status(actor: User, programme: Programme, status: str, *, now: datetime | None = None) -> Programme:
    sub_district = db.session.get(SubDistrict, programme.sub_district_id)
    if not permissions.can_manage_programmes(actor, sub_district):
        raise NotAllowed(_l("Only the sub-district's officials change a programme."))
    if status not in PROGRAMME_STATES:
        raise DomainError(_l("Choose one of the statuses."), "status")
    if status == programme.status:
        return programme
    before = programme.status
    programme.status = status
    programme.settled_at = None if status == "open" else (now or utcnow())
    db.session.flush()
    record(actor, "programme.status", programme, previous=before, status=status)
    return programme


def settle(programme: Programme, current_month: int, *, now: datetime | None = None) -> bool:
    """After the target month: achieved when its figure is at or below the target, else missed."""
    if programme.status != "open" or current_month <= programme.target_month:
        return False
    figure = programme_monthly_counts(programme, [programme.target_month])[programme.target_month]
    programme.status = "achieved" if figure <= programme.target else "missed"
    programme.settled_at = now or utcnow()
    record(None, "programme.settled", programme, status=programme.status, figure=figure, target=programme.target)
    return True


@due_step("insight_programmes")
def settle_programmes(now: datetime) -> int:
    """Once a programme's target month is over, settle it (idempotent: only open ones are settled)."""
    settled = 0
    for programme in db.session.scalars(db.select(Programme).where(Programme.status == "open")
                                        .order_by(Programme.id)).all():
        sub_district = db.session.get(SubDistrict, programme.sub_district_id)
        settled += settle(programme, sub_district_month(sub_district, now), now=now)
    db.session.flush()
    return settled


# --- the actions that serve it -----------------------------------------------------------------------------

def programme_actions(programme: Programme) -> list[Action]:
    return db.session.scalars(db.select(Action).where(Action.programme_id == programme.id)
                              .options(db.joinedload(Action.community)).order_by(Action.id)).all()


def linkable_actions(programme: Programme, *, limit: int = 50) -> list[Action]:
    """Actions of the programme's communities that serve no programme yet and are not done, newest first."""
    return db.session.scalars(db.select(Action).where(
        Action.community_id.in_([c.id for c in programme.communities]), Action.programme_id.is_(None),
        Action.parent_id.is_(None), Action.status != "done")
        .options(db.joinedload(Action.community)).order_by(Action.id.desc()).limit(limit)).all()


def _check_open(actor: User, programme: Programme) -> None:
    sub_district = db.session.get(SubDistrict, programme.sub_district_id)
    if not permissions.can_manage_programmes(actor, sub_district):
        raise NotAllowed(_l("Only the sub-district's officials change a programme."))
    if programme.status != "open":
        raise DomainError(_l("This programme is no longer open."))


def link_action(actor: User, programme: Programme, action: Action | None) -> Action:
    """Count an existing action as serving the programme (its source stays what it was)."""
    _check_open(actor, programme)
    if action is None or action.community_id not in {c.id for c in programme.communities}:
        raise DomainError(_l("Choose an action of the programme's communities."), "action")
    if action.programme_id is not None:
        raise DomainError(_l("That action already serves a programme."), "action")
    action.programme_id = programme.id
    db.session.flush()
    record(actor, "programme.action_linked", programme, action_id=action.id, community_id=action.community_id)
    return action


def create_programme_action(actor: User, programme: Programme, community: Community | None, *,
                            now: datetime | None = None) -> Action:
    """One step: an action of `community` for the programme (source "programme"), the community's residents'
    committee responsible, due at the end of the target month (or in a month when that has passed)."""
    from portal.insight.services import month_end, month_text
    _check_open(actor, programme)
    if community is None or community.id not in {c.id for c in programme.communities}:
        raise DomainError(_l("Choose one of the programme's communities."), "community")
    now = now or utcnow()
    org = db.session.scalar(db.select(Organization).where(
        Organization.community_id == community.id, Organization.kind == "residents_committee")
        .order_by(Organization.id).limit(1))
    if org is None:
        raise DomainError(_l("The community has no residents' committee to carry it out."), "community")
    today = in_zone(now, community.time_zone).date()
    due: date = max(month_end(programme.target_month), month_end(sub_district_month(
        db.session.get(SubDistrict, programme.sub_district_id), now)), today)
    with force_locale(default_language()):  # stored text: the portal's language, not the official's
        title = _("Programme: %(name)s", name=programme.name)[:200]
        description = _("Serves the programme \"%(name)s\": from %(baseline)d issues a month to %(target)d by "
                        "%(month)s.", name=programme.name, baseline=programme.baseline, target=programme.target,
                        month=month_text(programme.target_month))
    action = create_action(
        actor, community, source="programme", responsible_org=org, due_date=due, title=title,
        description=description,
        programme={"id": programme.id, "community_ids": [c.id for c in programme.communities]}, now=now)
    record(actor, "programme.action_created", programme, action_id=action.id, community_id=community.id)
    return action

