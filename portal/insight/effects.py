"""Did it work (issue #22): for an action that came from a hotspot or an expected rise (and, through
`register_related`, from whatever other areas add later: a topic, a programme), the related issues in the
months before it started and after it was done, the change, and whether the change is more than chance.

Windows, in local months of the action's community:
- before: the EFFECT_MONTHS months up to and including the month the action started (the month that made it
  be taken — a hotspot's month, an expected rise's month — and the ones before it);
- after: the EFFECT_MONTHS whole months after the month it was done, fewer when fewer have passed (the page
  says how many); none while the action is not done.

Test: counts of issues are taken as Poisson with a constant rate in each window. Given k1 issues in t1
months before and k2 in t2 months after, under "the rate did not change" k2 ~ Binomial(k1 + k2,
t2 / (t1 + t2)) (the exact conditional test for two Poisson rates); the two-sided p-value adds the
probabilities of every outcome no likelier than the one seen. Below SIGNIFICANCE the change is called more
than chance.

Counts come from the kept monthly counts (IssueMonthCount, IssueBuildingRollup), never from the issues,
so a page showing a few actions costs a fixed few statements."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from flask_babel import gettext as _

from portal.actions.models import Action
from portal.clock import utcnow
from portal.dashboard.models import IssueBuildingRollup
from portal.dashboard.rollups import month_number
from portal.extensions import db
from portal.insight.models import IssueMonthCount
from portal.insight.services import month_text
from portal.places.models import Community

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

EFFECT_MONTHS = 3
SIGNIFICANCE = Decimal("0.05")
RECENT_DONE = 8  # done actions the dashboard lists


# --- the test ----------------------------------------------------------------------------------------------

def _binomial_pmf(n: int, k: int, p: float) -> float:
    if p <= 0.0:
        return 1.0 if k == 0 else 0.0
    if p >= 1.0:
        return 1.0 if k == n else 0.0
    # in logarithms: n reaches the thousands at a busy building over six months
    return math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                    + k * math.log(p) + (n - k) * math.log1p(-p))


def poisson_rate_p_value(before: int, before_months: int, after: int, after_months: int) -> float:
    """Two-sided p-value of the exact conditional test that the rates before (`before` issues in
    `before_months`) and after are the same. 1.0 when there is nothing to compare."""
    n = before + after
    if n == 0 or before_months <= 0 or after_months <= 0:
        return 1.0
    p = after_months / (before_months + after_months)
    seen = _binomial_pmf(n, after, p)
    # "No likelier than seen", with a relative tolerance for rounding (as scipy's binomtest does).
    limit = seen * (1 + 1e-7)
    total = sum(q for q in (_binomial_pmf(n, i, p) for i in range(n + 1)) if q <= limit)
    return min(1.0, total)


# --- what is related to an action ----------------------------------------------------------------------------

@dataclass(frozen=True)
class BuildingCategory:
    """Issues of one category at some buildings of a community (a hotspot's)."""
    community_id: int
    category_id: int
    building_ids: tuple[int, ...]

    @staticmethod
    def count_many(items: list[BuildingCategory], first: int, last: int) -> list[dict[int, int]]:
        """{month: issues} for each item, months first..last, in one statement."""
        r = IssueBuildingRollup
        keys = {(i.community_id, i.category_id, b) for i in items for b in i.building_ids}
        rows = db.session.execute(
            db.select(r.community_id, r.category_id, r.building_id, r.month, db.func.sum(r.issues))
            .where(r.community_id.in_({k[0] for k in keys}), r.category_id.in_({k[1] for k in keys}),
                   r.building_id.in_({k[2] for k in keys}), r.month.between(first, last))
            .group_by(r.community_id, r.category_id, r.building_id, r.month)).all()
        found = defaultdict(int)
        for community_id, category_id, building_id, month, issues in rows:
            found[(community_id, category_id, building_id, month)] += int(issues or 0)
        return [{m: sum(found[(i.community_id, i.category_id, b, m)] for b in i.building_ids)
                 for m in range(first, last + 1)} for i in items]


@dataclass(frozen=True)
class CommunityCategory:
    """Issues of one category in a whole community (an expected rise's)."""
    community_id: int
    category_id: int

    @staticmethod
    def count_many(items: list[CommunityCategory], first: int, last: int) -> list[dict[int, int]]:
        c = IssueMonthCount
        rows = db.session.execute(
            db.select(c.community_id, c.category_id, c.month, c.issues)
            .where(c.community_id.in_({i.community_id for i in items}),
                   c.category_id.in_({i.category_id for i in items}), c.month.between(first, last))).all()
        found = {(r.community_id, r.category_id, r.month): int(r.issues) for r in rows}
        return [{m: found.get((i.community_id, i.category_id, m), 0) for m in range(first, last + 1)} for i in items]


# source → fn(action) → the related issues (an object with a static `count_many(items, first, last)`) or None
_RELATED: dict[str, Callable[[Action], object | None]] = {}


def register_related(source: str, fn: Callable[[Action], object | None]) -> None:
    """Say which issues are related to the actions of `source`: `fn(action)` returns None (nothing to
    compare) or an object whose class has `count_many(items, first_month, last_month)` returning, for each
    item, {month number: issues}. The topics and programmes register theirs the same way."""
    _RELATED[source] = fn


def related_to(action: Action) -> object | None:
    fn = _RELATED.get(action.source)
    return fn(action) if fn is not None and action.parent_id is None else None


def _hotspot_related(action: Action) -> BuildingCategory | None:
    if action.hotspot_building_id is None or action.hotspot_category_id is None:
        return None
    return BuildingCategory(action.community_id, action.hotspot_category_id, (action.hotspot_building_id,))


def _forecast_related(action: Action) -> CommunityCategory | None:
    if action.hotspot_category_id is None:
        return None
    return CommunityCategory(action.community_id, action.hotspot_category_id)


register_related("hotspot", _hotspot_related)
register_related("forecast", _forecast_related)


def sources() -> tuple[str, ...]:
    return tuple(_RELATED)


# --- the comparison ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Effect:
    action: Action
    before_months: list[int]
    after_months: list[int]  # empty while not done or no whole month has passed since
    before: int
    after: int
    p_value: float | None  # None when there is no "after" yet

    @property
    def done(self) -> bool:
        return self.action.status == "done"

    @property
    def short(self) -> bool:
        """Fewer whole months after than before have passed."""
        return self.done and len(self.after_months) < len(self.before_months)

    def per_month(self, which: str) -> Decimal | None:
        months = self.before_months if which == "before" else self.after_months
        if not months:
            return None
        count = self.before if which == "before" else self.after
        return (Decimal(count) / len(months)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    def change_percent(self) -> int | None:
        """Change of the monthly rate, percent (None without an "after" or with no issue before)."""
        if not self.after_months or not self.before:
            return None
        before = Decimal(self.before) / len(self.before_months)
        after = Decimal(self.after) / len(self.after_months)
        return int(((after - before) * 100 / before).quantize(Decimal("1"), rounding=ROUND_HALF_UP))

    @property
    def direction(self) -> str:
        """"fewer", "more", "same" (equal monthly rates) or "" (nothing to compare yet)."""
        if not self.after_months:
            return ""
        left, right = self.after * len(self.before_months), self.before * len(self.after_months)
        return "fewer" if left < right else "more" if left > right else "same"

    @property
    def significant(self) -> bool:
        return self.p_value is not None and Decimal(str(self.p_value)) < SIGNIFICANCE

    def p_text(self) -> str:
        """"= 0.013", "< 0.001", "= 0.31": three decimals below 0.1 (near the 0.05 line), else two."""
        if self.p_value is None:
            return ""
        if self.p_value < 0.001:
            return "< 0.001"
        places = "0.001" if self.p_value < 0.1 else "0.01"
        return "= " + str(Decimal(str(self.p_value)).quantize(Decimal(places), rounding=ROUND_HALF_UP))

    def verdict(self) -> str:
        """The result in plain words, naming the test."""
        if not self.done:
            return _("Not done yet: the months after it are counted once it is done.")
        if not self.after_months:
            return _("Not enough time has passed: no whole month since it was done yet.")
        test = _("Poisson rate test, p %(p)s", p=self.p_text())
        if self.direction == "same":
            return _("The same as before (%(test)s).", test=test)
        if self.direction == "fewer":
            if self.significant:
                return _("Fewer than before; more than chance (%(test)s).", test=test)
            return _("Fewer than before, but within chance (%(test)s).", test=test)
        if self.significant:
            return _("More than before; more than chance (%(test)s).", test=test)
        return _("More than before, but within chance (%(test)s).", test=test)

    def months_note(self) -> str:
        """Which months were compared, said so that a shorter "after" is plain."""
        before = _("before: %(first)s – %(last)s (%(n)d months up to the month it started)",
                   first=month_text(self.before_months[0]), last=month_text(self.before_months[-1]),
                   n=len(self.before_months))
        if not self.after_months:
            return before
        after = _("after: %(first)s – %(last)s (%(n)d whole months after the month it was done)",
                  first=month_text(self.after_months[0]), last=month_text(self.after_months[-1]),
                  n=len(self.after_months))
        if self.short:
            after += " " + _("— only %(n)d of %(of)d months have passed so far", n=len(self.after_months),
                             of=len(self.before_months))
        return _("%(before)s; %(after)s", before=before, after=after)


def windows(action: Action, now: datetime, months: int = EFFECT_MONTHS) -> tuple[list[int], list[int]]:
    """(before months, after months) of the action, as in the module's docstring."""
    zone = action.community.time_zone
    started = month_number(action.started_at or action.created_at, zone)
    before = list(range(started - months + 1, started + 1))
    if action.status != "done" or action.done_at is None:
        return before, []
    done = month_number(action.done_at, zone)
    current = month_number(now, zone)
    return before, [m for m in range(done + 1, done + months + 1) if m < current]


def effects_of(actions: Iterable[Action], *, now: datetime | None = None,
               months: int = EFFECT_MONTHS) -> list[Effect]:
    """The effect of each action with related issues (the others are left out), in the order given; one
    statement per kind of related issues."""
    now = now or utcnow()
    found = [(a, related_to(a)) for a in actions]
    found = [(a, r) for a, r in found if r is not None]
    spans = {a.id: windows(a, now, months) for a, _r in found}
    by_kind = defaultdict(list)
    for a, r in found:
        by_kind[type(r)].append((a, r))
    counts = {}
    for kind, pairs in by_kind.items():
        every = [m for a, _r in pairs for m in spans[a.id][0] + spans[a.id][1]]
        for (a, _r), monthly in zip(pairs, kind.count_many([r for _a, r in pairs], min(every), max(every))):
            counts[a.id] = monthly
    out = []
    for a, _r in found:
        before_months, after_months = spans[a.id]
        monthly = counts[a.id]
        before = sum(monthly.get(m, 0) for m in before_months)
        after = sum(monthly.get(m, 0) for m in after_months)
        p = poisson_rate_p_value(before, len(before_months), after, len(after_months)) if after_months else None
        out.append(Effect(a, before_months, after_months, before, after, p))
    return out


def effect_of(action: Action, *, now: datetime | None = None) -> Effect | None:
    """The action's before/after, None when its source has no related issues."""
    found = effects_of([action], now=now)
    return found[0] if found else None


def recent_done_effects(*, community_ids: Iterable[int] | None = None, sub_district_id: int | None = None,
                        now: datetime | None = None, limit: int = RECENT_DONE) -> list[Effect]:
    """The latest done actions of the communities (listed, or all of a sub-district) whose source has related
    issues, with their effect: one statement for the actions and one per kind of related issues, however
    many actions and issues there are."""
    if community_ids is not None:
        where = Action.community_id.in_(list(community_ids))
    elif sub_district_id is not None:
        where = Action.community_id.in_(db.select(Community.id).where(Community.sub_district_id == sub_district_id))
    else:
        return []
    actions = db.session.scalars(
        db.select(Action).where(where, Action.status == "done", Action.parent_id.is_(None),
                                Action.source.in_(sources()))
        .options(db.joinedload(Action.community))
        .order_by(Action.done_at.desc(), Action.id.desc()).limit(limit)).all()
    return effects_of(actions, now=now)
