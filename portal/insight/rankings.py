"""Rankings for officials (issue #22): a sub-district's communities and responsible organizations ranked,
for one local month, by each of the three rates, by demand per 1,000 households and by the proactive share.

- Highest figure first. Ties share a rank and the next rank skips ("competition ranking": 1, 2, 2, 4).
- A figure whose denominator is 0 shows "—" and is ranked after every figure (all such share the last rank).
- Demand per 1,000 households = issues of the month ÷ households in the community's register × 1,000.
- Responsible organizations are ranked by the three rates only: households and proactive findings belong to
  communities, not to the organization that handles an issue.

The rates are the dashboard's (portal.dashboard.services.three_rates, from its rollups), the proactive share
insight's (from the monthly counts): ranking a month costs a fixed few statements."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from flask_babel import lazy_gettext as _l

from portal.dashboard.services import Filters, three_rates
from portal.extensions import db
from portal.insight.services import month_start, proactive_share
from portal.places.models import Building, Household

RATE_MEASURES = ("response", "resolution", "satisfaction")
MEASURES = (*RATE_MEASURES, "demand", "proactive")
COMMUNITY_ONLY = ("demand", "proactive")
MEASURE_LABELS = {
    "response": _l("Response rate"),
    "resolution": _l("Resolution rate"),
    "satisfaction": _l("Satisfaction rate"),
    "demand": _l("Demand per 1,000 households"),
    "proactive": _l("Proactive share"),
}
FORMULAS = {
    "response": _l("Response rate = issues first responded to by their respond-by time ÷ issues whose "
                   "respond-by time has passed or that have been responded to."),
    "resolution": _l("Resolution rate = issues whose reporter answered “resolved: yes” ÷ issues whose reporter "
                     "answered (a hotline issue's return visit counts as its answer; ratings removed by an upheld "
                     "appeal count in neither)."),
    "satisfaction": _l("Satisfaction rate = issues rated satisfied or basically satisfied ÷ issues rated."),
    "demand": _l("Demand per 1,000 households = issues submitted in the month ÷ households in the community's "
                 "register × 1,000."),
    "proactive": _l("Proactive share = issues found by a grid worker's patrol or while checking an expected "
                    "rise ÷ all issues submitted in the month."),
}


@dataclass(frozen=True)
class Ranked:
    rank: int
    key: object
    label: str
    numerator: int
    denominator: int
    value: Fraction | None  # None: the denominator is 0
    text: str  # "87.5%", "12.3", "—"


def competition_ranks(values: list[Fraction | None]) -> list[int]:
    """The rank of each value, highest first: ties share a rank and the next skips (1, 2, 2, 4); every None
    comes after all values, sharing the last rank."""
    present = [v for v in values if v is not None]
    last = len(present) + 1
    return [1 + sum(other > v for other in present) if v is not None else last for v in values]


def rank(rows: list[tuple[object, str, int, int, Fraction | None, str]]) -> list[Ranked]:
    """Rows (key, label, numerator, denominator, value, text) ranked and ordered: by rank, then label."""
    ranks = competition_ranks([r[4] for r in rows])
    out = [Ranked(n, *r) for n, r in zip(ranks, rows)]
    out.sort(key=lambda r: (r.rank, r.label, str(r.key)))
    return out


def _percent(numerator: int, denominator: int) -> str:
    if not denominator:
        return "—"
    value = (Decimal(100 * numerator) / denominator).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value}%"


def _fraction(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(numerator, denominator) if denominator else None


def households_by_community(community_ids: list[int]) -> dict[int, int]:
    """{community id: households in its register}, zeros included, in one statement."""
    found = dict.fromkeys(community_ids, 0)
    if community_ids:
        rows = db.session.execute(db.select(Building.community_id, db.func.count(Household.id))
                                  .join(Household, Household.building_id == Building.id)
                                  .where(Building.community_id.in_(community_ids))
                                  .group_by(Building.community_id))
        for community_id, count in rows:
            found[community_id] = int(count)
    return found


def _rate_rows(rows, measure: str) -> list[tuple]:
    out = []
    for row in rows:
        rate = row.rate(measure)
        out.append((row.key, row.label, rate.numerator, rate.denominator,
                    _fraction(rate.numerator, rate.denominator), _percent(rate.numerator, rate.denominator)))
    return out


def rankings(sub_district, month: int, measure: str) -> dict[str, list[Ranked]]:
    """{"community": [...], "org": [...]} of the sub-district ranked by `measure` (one of MEASURES) in the
    local month `month` (year × 12 + month − 1); "org" is empty for the community-only measures.
    Raises ValueError for an unknown measure."""
    if measure not in MEASURES:
        raise ValueError(measure)
    first = month_start(month)
    day = date(first.year, first.month, 1)
    rates = three_rates(Filters(sub_district=sub_district, month_from=day, month_to=day))
    communities = rates["community"]
    if measure in RATE_MEASURES:
        orgs = [r for r in rates["org"] if r.key is not None]
        return {"community": rank(_rate_rows(communities, measure)), "org": rank(_rate_rows(orgs, measure))}
    ids = [r.key for r in communities]
    if measure == "demand":
        households = households_by_community(ids)
        rows = []
        for r in communities:
            n = households[r.key]
            value = _fraction(r.issues * 1000, n)
            text = "—" if value is None else str((Decimal(r.issues * 1000) / n).quantize(
                Decimal("0.1"), rounding=ROUND_HALF_UP))
            rows.append((r.key, r.label, r.issues, n, value, text))
        return {"community": rank(rows), "org": []}
    shares = proactive_share(ids, [month])
    rows = [(r.key, r.label, shares[(r.key, month)].proactive, shares[(r.key, month)].issues,
             _fraction(shares[(r.key, month)].proactive, shares[(r.key, month)].issues),
             shares[(r.key, month)].percent()) for r in communities]
    return {"community": rank(rows), "org": []}

