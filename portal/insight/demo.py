"""Demo insight: three years of issue history per demo community with real seasonality — lift complaints
every summer, heating from mid-November to March (most in December), leaks in the January freeze, greenery in spring, 飞线充电
(e-bikes charged on wires from windows) rising year on year and in winter — bulk-inserted as closed issues
(then the rollups rebuilt), so the month's forecasts and expected rises say something true on first run; a
grid of 花家地 with its grid worker (网格员) and a patrol log, one round with a finding filed as an issue; and
one expected rise already turned into a proactive action; a hotspot of leaks at one building of 花家地 acted on
and done four months ago, so its before/after shows a real drop. Idempotent: a community that already has issues
older than a year is left alone."""
from __future__ import annotations

import io
import math
import random
from datetime import UTC, datetime, time, timedelta

from PIL import Image
from sqlalchemy import insert

from portal.actions.models import Action
from portal.actions.services import complete, create_action, post_progress
from portal.auth.services import find_by_login
from portal.clock import utcnow
from portal.committees.models import Organization
from portal.dashboard.rollups import rebuild_rollups
from portal.demo_people import COMMUNITY_SLUGS, OFFICIALS, ensure_member, ensure_organization, ensure_user
from portal.extensions import db
from portal.insight import programmes as P
from portal.insight import services
from portal.insight import topics as T
from portal.insight.models import Forecast, GridBuilding, PatrolRound, Programme
from portal.insight.rollup import rebuild_month_counts
from portal.issues.models import Issue, IssueCategory
from portal.places.models import Building, Community, Residency

YEARS = 3
# Leaks at one building of 花家地 piled up 7 to 5 months ago (a hotspot); the property company fixed the
# pipes 5 to 4 months ago, and the months since are back to the usual: the done action's before/after.
SPIKE = {7: 6, 6: 8, 5: 9}
SPIKE_CATEGORY = "leak"
SPIKE_TITLES = ["楼道水管漏水", "楼上渗水到楼道", "水管接口滴水"]
EFFECT_TITLE = "%s楼道水管集中更换"
GRID_WORKER = ("13800000050", "张网格")


def _summer(m):
    return {5: 1.4, 6: 3.0, 7: 2.2}.get(m, 0.8)


def _heating(m):
    # Heating starts on 15 November; the complaints come with the first hard frosts in December.
    return {10: 2.5, 11: 9.0, 0: 8.0, 1: 4.0, 2: 1.5}.get(m, 0.3)


def _programme_effect(t):
    # The 飞线充电 programme (专项) opened three months ago: charging on wires falls month by month since.
    back = round(YEARS * 12 - t * 12)
    return {3: 0.5, 2: 0.35, 1: 0.2}.get(back, 1.0)


# category code → (titles, monthly mean as a function of (month of year 0–11, years since the start))
PROFILES = {
    "lift": (["电梯停运", "电梯太热没有空调", "电梯异响", "电梯困人"], lambda m, t: 3.5 * _summer(m)),
    "heating": (["暖气不热", "暖气漏水", "室温不达标"], lambda m, t: _heating(m)),
    "security": (["楼道飞线充电", "电动车在楼道充电", "窗口拉电线给电动车充电"],
                 lambda m, t: 1.5 * 1.6 ** t * (1.3 if m in (11, 0, 1) else 1.0) * _programme_effect(t)),
    "rubbish": (["垃圾清运不及时", "垃圾桶满溢", "垃圾分类投放混乱"], lambda m, t: 4.0 * (1.3 if m in (6, 7) else 1.0)),
    "noise": (["夜间施工噪音", "广场舞音响太吵", "楼上装修噪音"], lambda m, t: 2.5 * (1.5 if m in (5, 6, 7) else 1.0)),
    "leak": (["水管冻裂", "楼道漏水", "地下室渗水"], lambda m, t: 1.5 * (2.5 if m in (0, 1) else 1.0)),
    "greenery": (["绿化带杂草", "树枝遮挡窗户", "草坪枯死"], lambda m, t: 1.0 * (2.2 if m in (3, 4) else 1.0)),
    "parking": (["违停堵塞消防通道", "僵尸车占车位"], lambda m, t: 2.5),
}


def _history_rows(community, categories, reporters, buildings, now, rng) -> list[dict]:
    """Closed issues for each of the 36 months before the current one, Poisson counts around the profiles."""
    current = services.current_month(community, now)
    scale = {"huajiadi": 1.0, "nanhu": 0.8, "wanghualu": 0.6}.get(community.slug, 0.7)
    rows = []
    for back in range(YEARS * 12, 0, -1):
        month = current - back
        start = services.month_start(month)
        days = (services.month_start(month + 1) - start).days
        for code, (titles, shape) in PROFILES.items():
            category = categories.get(code)
            if category is None:
                continue
            mean = scale * shape(month % 12, (YEARS * 12 - back) / 12)
            for _ in range(_poisson(rng, mean)):
                at = (utcnow().replace(year=start.year, month=start.month, day=1, hour=0, minute=0, second=0,
                                       microsecond=0) + timedelta(days=rng.randrange(days), hours=rng.randrange(1, 14)))
                if at >= now:
                    continue
                rows.append(_closed_issue(community, category, rng.choice(titles),
                                          rng.choice(buildings) if buildings else None, rng.choice(reporters), at))
    return rows


def _closed_issue(community, category, title, building, reporter_id, at) -> dict:
    """The row of an issue handled in time and closed, for the bulk insert."""
    return dict(
        community_id=community.id, category_id=category.id, title=title, description="",
        building_id=building.id if building is not None else None, reporter_id=reporter_id,
        source="portal", show_name=False, status="closed", handling_org_id=category.default_org_id,
        submitted_at=at, respond_by=at + timedelta(hours=category.respond_hours),
        resolve_by=at + timedelta(hours=category.resolve_hours), first_response_at=at + timedelta(hours=2),
        resolved_at=at + timedelta(days=2), closed_at=at + timedelta(days=9), next_deadline=None,
        respond_warned=0, resolve_warned=0, reopen_count=0, support_count=0, rating_excluded=False)


def _spike_rows(community, categories, reporters, buildings, now, rng) -> list[dict]:
    """The leaks of the first building of 花家地 that made the hotspot the demo's done action answered."""
    leak = categories.get(SPIKE_CATEGORY)
    if community.slug != COMMUNITY_SLUGS[0] or leak is None or not buildings:
        return []
    current = services.current_month(community, now)
    rows = []
    for back, count in SPIKE.items():
        start = services.month_start(current - back)
        for i in range(count):
            at = utcnow().replace(year=start.year, month=start.month, day=1 + (i * 3) % 27, hour=3 + i % 8,
                                  minute=0, second=0, microsecond=0)
            rows.append(_closed_issue(community, leak, rng.choice(SPIKE_TITLES), buildings[0],
                                      rng.choice(reporters), at))
    return rows


def _poisson(rng, mean) -> int:
    # Knuth's method: the means here are small.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _seed_history(community, now, rng) -> int:
    if db.session.scalar(db.select(Issue.id).where(Issue.community_id == community.id,
                                                   Issue.submitted_at < now - timedelta(days=400)).limit(1)):
        return 0
    categories = {c.code: c for c in db.session.scalars(db.select(IssueCategory).where(
        IssueCategory.community_id == community.id))}
    reporters = db.session.scalars(db.select(Residency.user_id).where(
        Residency.community_id == community.id, Residency.status == "verified").order_by(Residency.id)).all()
    if not categories or not reporters:
        return 0
    buildings = db.session.scalars(db.select(Building).where(Building.community_id == community.id)
                                   .order_by(Building.id)).all()
    rows = _history_rows(community, categories, reporters, buildings, now, rng)
    rows += _spike_rows(community, categories, reporters, buildings, now, rng)
    for i in range(0, len(rows), 2000):
        db.session.execute(insert(Issue.__table__), rows[i:i + 2000])
    return len(rows)


def _seed_grid(now) -> list[str]:
    community = db.session.scalar(db.select(Community).where(Community.slug == COMMUNITY_SLUGS[0]))
    if community is None:
        return []
    grid = ensure_organization("grid", "花家地第一网格", community=community)
    worker = ensure_user(*GRID_WORKER)
    ensure_member(grid, worker, "staff")
    buildings = db.session.scalars(db.select(Building).where(Building.community_id == community.id)
                                   .order_by(Building.id).limit(3)).all()
    if not db.session.scalar(db.select(GridBuilding.building_id).where(GridBuilding.organization_id == grid.id)):
        for building in buildings:
            db.session.add(GridBuilding(organization_id=grid.id, building_id=building.id))
        db.session.flush()
    if db.session.scalar(db.select(PatrolRound.id).where(PatrolRound.grid_id == grid.id).limit(1)) or not buildings:
        return [f"grid worker: {GRID_WORKER[0]} ({GRID_WORKER[1]})"]
    security = db.session.scalar(db.select(IssueCategory).where(IssueCategory.community_id == community.id,
                                                                IssueCategory.code == "security"))
    rounds = [
        (40, buildings[0], "", "消防通道、楼道堆物", None),
        (25, buildings[1], "北侧自行车棚", "电动车充电桩、车棚线路", None),
        (9, buildings[-1], "2单元", "楼道、窗口有无拉线充电",
         {"category": security, "title": "2单元窗口拉线给电动车充电", "description": "三楼窗口垂下一根电线到楼下电动车。"}),
        (2, buildings[0], "", "电梯运行、门禁", None),
    ]
    for days_ago, building, place, checked, finding in rounds:
        services.log_patrol(worker, community, checked=checked, building=building, place=place,
                            finding=finding if finding and finding["category"] else None,
                            now=now - timedelta(days=days_ago))
    return [f"grid worker: {GRID_WORKER[0]} ({GRID_WORKER[1]}), {len(rounds)} patrol rounds"]


def seed_insight() -> list[str]:
    now = utcnow()
    rng = random.Random(22)
    communities = db.session.scalars(db.select(Community).where(Community.slug.in_(COMMUNITY_SLUGS))
                                     .order_by(Community.id)).all()
    added = sum(_seed_history(c, now, rng) for c in communities)
    if added:
        ids = [c.id for c in communities]
        rebuild_rollups(ids)
        rebuild_month_counts(ids)
    lines = [f"issue history: {added} issues over {YEARS} years"] if added else []
    lines += _seed_grid(now)
    rises = 0
    for community in communities:
        rises += services.forecast_community(community, services.current_month(community, now), now=now).rises
    # One expected rise acted on already, so both states show.
    first = db.session.scalar(db.select(Forecast).where(Forecast.rise.is_(True), Forecast.action_id.is_(None),
                                                        Forecast.community_id.in_([c.id for c in communities]),
                                                        Forecast.month == services.current_month(communities[-1], now))
                              .order_by(Forecast.community_id.desc(), Forecast.id).limit(1)) if communities else None
    already = db.session.scalar(db.select(Forecast.id).where(Forecast.action_id.is_not(None)).limit(1))
    if first is not None and already is None:
        services.act_on_rise(find_by_login(OFFICIALS[0][0]), first, now=now)
    lines.append(f"forecasts: {rises} expected rises this month")
    lines += _seed_done_hotspot_action(now)
    if communities:
        lines += _seed_topics(communities[0].sub_district, now)
    return lines


PROGRAMME_NAME = "飞线充电专项整治"
ACHIEVED_NAME = "季节高峰诉求专项"


def _mid_month(month: int) -> datetime:
    return datetime.combine(services.month_start(month).replace(day=15), time(4), UTC)


def _achieved_rule(communities, current) -> tuple[str, int]:
    """(category code, months ago) of a seasonal category whose count fell by 40 % within three months of a
    start 4–9 months back (the seasons make one whatever the month of the demo), for the achieved programme."""
    best = ("lift", 6)
    for code in ("lift", "heating", "greenery", "leak"):
        rule = Programme(category_code=code, words="")
        rule.communities = communities
        counts = P.programme_monthly_counts(rule, range(current - 11, current))
        for back in range(4, 10):
            start = current - back
            if counts[start + 3] <= counts[start - 1] * 60 // 100:
                return code, back
    return best


def _seed_topics(sub_district, now) -> list[str]:
    """Last month's topics; the one about charging on wires picked as the month's problem; an open programme
    on it started three months ago (its figure falling toward the target, actions linked in two communities)
    and a programme on a seasonal category whose peak passed, achieved."""
    T.run_topics(now)
    month = T.sub_district_month(sub_district, now) - 1
    official = find_by_login(OFFICIALS[0][0])
    rows = P.ranked_topics(sub_district, month)
    lines = [f"topics of {services.month_text(month)}: {len(rows)}"]
    if not rows or official is None:
        return lines
    charging = next((r.topic for r in rows if any("充电" in w for w in r.topic.word_list)), rows[0].topic)
    if P.month_problem(sub_district, month) is None:
        P.pick_month_problem(official, charging, now=now)
    if db.session.scalar(db.select(Programme.id).where(Programme.sub_district_id == sub_district.id).limit(1)):
        return lines
    communities = list(sub_district.communities)
    started = _mid_month(T.sub_district_month(sub_district, now) - 3)
    programme = P.open_programme(official, sub_district, name=PROGRAMME_NAME, communities=communities,
                                 category_code="security", words="充电", cut_percent=50, months=5, now=started)
    for community in communities[:2]:
        P.create_programme_action(official, programme, community, now=now)
    existing = next(iter(P.linkable_actions(programme)), None)
    if existing is not None:
        P.link_action(official, programme, existing)
    current = T.sub_district_month(sub_district, now)
    code, back = _achieved_rule(communities, current)
    achieved = P.open_programme(official, sub_district, name=ACHIEVED_NAME, communities=communities,
                                category_code=code, cut_percent=40, months=3, now=_mid_month(current - back))
    P.settle(achieved, T.sub_district_month(sub_district, now), now=now)
    figure = P.programme_figure(programme, now=now)
    lines.append(f"programmes: {programme.name} {[figure.counts[m] for m in figure.months]} → target "
                 f"{programme.target}; {achieved.name}: {achieved.status}")
    return lines


def _evidence_photo() -> tuple[str, bytes]:
    """A plain JPEG as the completion's evidence (completing an action needs one)."""
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 160, 200)).save(out, "JPEG", quality=70)
    return "更换后的立管.jpg", out.getvalue()


def _seed_done_hotspot_action(now) -> list[str]:
    """The hotspot of leaks (SPIKE) acted on and done 4 months ago, so its page and the dashboard show a
    real drop; the lighting hotspot of the actions demo, not done yet, shows the other state."""
    community = db.session.scalar(db.select(Community).where(Community.slug == COMMUNITY_SLUGS[0]))
    official = find_by_login(OFFICIALS[0][0])
    if community is None or official is None:
        return []
    building = db.session.scalar(db.select(Building).where(Building.community_id == community.id)
                                 .order_by(Building.id).limit(1))
    leak = db.session.scalar(db.select(IssueCategory).where(IssueCategory.community_id == community.id,
                                                            IssueCategory.code == SPIKE_CATEGORY))
    company = db.session.scalar(db.select(Organization).where(Organization.community_id == community.id,
                                                              Organization.kind == "property_company")
                                .order_by(Organization.id).limit(1))
    staff = next((m.user for m in company.current_memberships()), None) if company is not None else None
    if None in (building, leak, staff):
        return []
    title = EFFECT_TITLE % building.name
    if db.session.scalar(db.select(Action.id).where(Action.community_id == community.id, Action.title == title)):
        return []
    month = services.current_month(community, now) - 5
    start = datetime.combine(services.month_start(month) + timedelta(days=19), time(2), tzinfo=UTC)
    action = create_action(official, community, source="hotspot", title=title, responsible_org=company,
                           owner=staff, due_date=services.month_end(month + 1),
                           description="该楼楼道漏水报修连续三个月明显高于往月，请物业排查并更换老化水管。",
                           hotspot={"building": building, "category": leak, "month": services.month_text(month)},
                           now=start)
    post_progress(staff, action, body="已排查全部楼层，老化立管共12处，开始分段更换。", percent=40,
                  now=start + timedelta(days=2))
    complete(staff, action, note="12处老化立管已全部更换，试水无渗漏。", photos=[_evidence_photo()],
             now=start + timedelta(days=25))
    return [f"{community.name}: a done hotspot action with its before/after ({title})"]
