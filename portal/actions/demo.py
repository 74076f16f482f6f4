"""Demo agreed actions (落实事项) for 花家地社区, one in every state, all made through the services:

- planned: tidying the north gate's rubbish point, after a resolved issue;
- in progress: the garage lighting the homeowners' committee's meeting decided ("create_action"), with two
  progress reports and a photo;
- blocked: the top-floor heating pipes of building 8, waiting for the heating company;
- done: every entrance's card reader checked (after the broken reader issue), with a completion note, a
  photo and residents' ratings (mixed);
- evaluated: the outdoor fitness equipment of the implementing proposal the notices demo produced, done more
  than 14 days ago, so its rating window closed and the proposal became evaluated;
- two overdue (due dates in the past: made with `now=` in the past), one chased by the sub-district official;
- a hotspot action of the sub-district official (corridor lighting of a building) split into three steps
  (progress rolls up);
- a chase of an overdue open issue;
- whistle-blowing (吹哨报到) on the blocked heating action: the sub-district office summons both departments;
  one reports in on time, the other late (after the run-due warning); each commitment is a sub-action of its
  department. (The issues demo's whistle-blown work order got its joint-handling action, with the
  commitments of its report-ins as sub-actions, from the signal when its organizations reported in.)

Photos are small generated JPEGs, stored under UPLOAD_DIR like uploads. Runs after the notices demo and skips
what is missing. Idempotent: a community that already has actions (other than the joint handling of whistle-blown issues) is
left alone."""
import io
import random
from datetime import timedelta

from PIL import Image, ImageDraw

from portal.actions import services
from portal.actions.models import Action, ActionSummons, Chase
from portal.auth.models import User
from portal.clock import in_zone, utcnow
from portal.committees.models import Decision, Meeting, Organization
from portal.demo_people import COMMUNITY_PEOPLE, OFFICIALS
from portal.extensions import db
from portal.issues.models import OPEN_STATES, Issue, IssueCategory
from portal.places.models import Building, Community, Residency
from portal.proposals.models import Proposal

SLUG = "huajiadi"
H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)


def photo(colour, seed, *, size=(960, 720)) -> tuple[str, bytes]:
    """A small believable-looking JPEG (~30 KB): a coloured ground, a few shapes, a little grain."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(14):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(40, 260), rng.randrange(30, 200)
        fill = tuple(max(0, min(255, c + rng.randrange(-70, 70))) for c in colour)
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)((x, y, x + w, y + h), fill=fill)
    grain = Image.effect_noise(size, 28).convert("RGB")
    image = Image.blend(image, grain, 0.1)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return f"现场照片-{seed}.jpg", out.getvalue()


def _person(phone):
    return db.session.scalar(db.select(User).where(User.phone == phone))


def _org(community, kind, name_part=None):
    query = db.select(Organization).where(Organization.kind == kind)
    query = query.where(Organization.sub_district_id == community.sub_district_id) if kind == "department" \
        else query.where(Organization.community_id == community.id)
    if name_part:
        query = query.where(Organization.name.contains(name_part))
    return db.session.scalar(query.order_by(Organization.id).limit(1))


def _first_member(org):
    members = org.current_memberships() if org is not None else []
    return members[0].user if members else None


def _issue(community, title, statuses):
    """The issue of that title in one of those states, else the first in those states (or None)."""
    query = db.select(Issue).where(Issue.community_id == community.id, Issue.status.in_(statuses))
    return db.session.scalar(query.where(Issue.title == title).limit(1)) or \
        db.session.scalar(query.order_by(Issue.id).limit(1))


def _whistle(official, action, at):
    """Whistle-blowing on an action: the office summons the sub-district's two departments (2 hours to
    report); the first reports in on time, the second only after the run-due warning; both commitments
    become sub-actions of their department."""
    departments = [o for o in services.action_summons_targets(action) if o.kind == "department"
                   and _first_member(o) is not None][:2]
    if len(departments) < 2:
        return
    first, second = services.blow_whistle_on_action(
        official, action, departments, report_within=120, reason="停水作业需要住建、城管等部门协调热力公司，联合推进。",
        now=at)
    services.report_in_to_action(_first_member(departments[0]), first, attendee="科长 王磊",
                                 action="协调热力公司本周内批复停水计划。", action_due=at + 5 * D, now=at + 40 * M)
    services.warn_late_action_summonses(at + 3 * H)
    services.report_in_to_action(_first_member(departments[1]), second, attendee="科室工作人员 刘军",
                                 action="施工期间负责现场围挡和交通疏导。", action_due=at + 12 * D, now=at + 5 * H)


def _local_today(community, now):
    return services.local_date(community, now)


def seed_actions() -> list[str]:
    community = db.session.scalar(db.select(Community).where(Community.slug == SLUG))
    if community is None:
        return []
    if db.session.scalar(db.select(Action.id).where(
            Action.community_id == community.id, Action.joint_issue_id.is_(None), Action.issue_summons_id.is_(None))
            .limit(1)) is not None:
        return [f"{community.name}: actions already seeded"]
    people = COMMUNITY_PEOPLE[SLUG]
    chair, hoa_chair = _person(people["chair"][0]), _person(people["hoa_chair"][0])
    staff, official = _person(people["property"][0]), _person(OFFICIALS[0][0])
    hoa, rc = _org(community, "homeowners_committee"), _org(community, "residents_committee")
    company = _org(community, "property_company")
    urban = _org(community, "department", "城管") or _org(community, "department")
    if None in (chair, hoa_chair, staff, official, hoa, rc, company, urban):
        return []
    residents = db.session.scalars(db.select(User).join(Residency, Residency.user_id == User.id).where(
        Residency.community_id == community.id, Residency.status == "verified", Residency.ended_at.is_(None))
        .order_by(User.id).distinct()).all()
    done_states = ("resolved", "closed")
    now = utcnow()
    today = _local_today(community, now)
    made = []

    def create(actor, at, **kwargs):
        action = services.create_action(actor, community, now=at, **kwargs)
        made.append(action)
        return action

    def ratings(action, at, choices):
        for k, (user, satisfaction) in enumerate(zip(residents, choices)):
            services.rate(user, action, satisfaction, now=at + k * 3 * H)

    # planned: after the rubbish issue, a lasting fix of the north gate's rubbish point
    rubbish = _issue(community, "垃圾清运不及时", done_states)
    if rubbish is not None:
        create(chair, now - 2 * H, source="issue", issue=rubbish, title="北门垃圾站除臭及定期冲洗",
               description="垃圾站加装除臭喷淋，物业每周冲洗两次，居委会每月抽查。",
               responsible_org=company, owner=staff, due_date=today + 21 * D, budget="8600",
               funding_source="小区公共收益")

    # planned, with volunteers: the volunteer team guards the sorting bins; one volunteer is counted only
    team = _org(community, "volunteer_team")
    if rubbish is not None and team is not None and residents:
        guard = create(chair, now - 3 * D, source="issue", issue=rubbish, title="垃圾分类桶前志愿值守",
                       description="每天早晚高峰在北门垃圾站指导居民分类投放，每班两人，持续一个月。",
                       responsible_org=team, owner=_first_member(team), due_date=today + 30 * D)
        for k, person in enumerate(residents[:4]):
            services.sign_up_volunteer(person, guard, show_name=k != 2, now=now - 3 * D + (k + 1) * H)

    # in progress: the meeting decision on the garage lighting, two reports and a photo
    decision = db.session.scalar(db.select(Decision).join(Meeting).where(
        Meeting.community_id == community.id, Decision.follow_up == "create_action").order_by(Decision.id).limit(1))
    if decision is not None:
        start = max(decision.created_at, now - 2 * D) + H
        garage = create(hoa_chair, start, source="decision", decision=decision,
                        title="更换地下车库B区损坏灯具（LED）", description=decision.text,
                        responsible_org=company, owner=staff, due_date=_local_today(community, start) + 14 * D,
                        budget="6400.00", funding_source="物业服务费")
        services.post_progress(staff, garage, body="已清点B区损坏灯具16盏，LED灯管已下单，预计两天到货。",
                               percent=20, now=start + 6 * H)
        services.post_progress(staff, garage, body="已更换B区东侧9盏，西侧7盏明天上午施工，施工时请绕行。",
                               percent=60, photos=[photo((70, 80, 95), 1)], now=min(now - H, start + 30 * H))

    # blocked: the heating pipes of the top floor need the heating company
    heating = _issue(community, "暖气不热", done_states)
    if heating is not None:
        pipes = create(chair, now - 6 * D, source="issue", issue=heating, title="8号楼顶层供暖支管改造",
                       description="排气只能临时解决，顶层支管管径偏小，需要改造。",
                       responsible_org=company, owner=staff, due_date=today + 30 * D)
        services.post_progress(staff, pipes, body="已请热力公司现场勘察，测得顶层回水温度偏低。", percent=15,
                               now=now - 5 * D)
        services.block(staff, pipes, "改造需在停暖期间对供暖主管网停水作业，热力公司尚未批准停水计划。",
                       "热力公司望京分公司（由街道住建科协调）", now=now - 3 * D)
        _whistle(official, pipes, now - 2 * D)

    # done, rated: every entrance's card reader checked after the broken one
    doors = _issue(community, "单元门禁损坏", done_states)
    if doors is not None:
        readers = create(chair, now - 10 * D, source="issue", issue=doors, title="全小区单元门禁读卡器排查更换",
                         description="1单元读卡器损坏后，对全部单元门禁做一次排查，老化的一并更换。",
                         responsible_org=company, owner=staff, due_date=today + 5 * D, budget="12000")
        services.post_progress(staff, readers, body="已排查24个单元门，其中5个读卡器老化。", percent=40,
                               now=now - 8 * D)
        services.complete(staff, readers, note="5个老化读卡器已全部更换，门禁逐一测试正常，闭门器同时调整。",
                          photos=[photo((150, 150, 140), 2)], now=now - 3 * D)
        ratings(readers, now - 3 * D + 2 * H, ["satisfied", "satisfied", "basically_satisfied",
                                                "basically_satisfied", "dissatisfied"])

    # evaluated: the implementing proposal from the notices demo, done more than 14 days ago
    proposal = db.session.scalar(db.select(Proposal).where(
        Proposal.community_id == community.id, Proposal.status == "implementing", Proposal.outcome == "passed")
        .order_by(Proposal.id).limit(1))
    if proposal is not None:
        start = now - 40 * D
        fitness = create(hoa_chair, start, source="proposal", proposal=proposal, title="安装室外健身器材",
                         description="按表决结果在中心广场东侧安装8件健身器材，铺设塑胶地面。",
                         responsible_org=company, owner=staff, due_date=_local_today(community, start) + 30 * D,
                         budget="46000", funding_source="小区公共收益")
        services.post_progress(staff, fitness, body="塑胶地面已铺设完毕，器材进场。", percent=50, now=start + 10 * D)
        services.complete(staff, fitness, note="8件器材安装完毕并通过验收，张贴了使用说明和安全提示。",
                          photos=[photo((60, 140, 80), 3)], now=now - 17 * D)
        ratings(fitness, now - 16 * D, ["satisfied", "basically_satisfied", "satisfied", "dissatisfied"])
        services.apply_due(fitness, now)

    # two overdue: one in progress (chased by the official), one never started
    noise = _issue(community, "夜间施工噪音", done_states)
    overdue = None
    if noise is not None:
        start = now - 30 * D
        overdue = create(official, start, source="issue", issue=noise, title="东侧工地围挡加装隔音屏",
                         description="施工单位承诺停工时间后，仍需加装隔音屏减少白天噪音。",
                         responsible_org=urban, owner=_first_member(urban),
                         due_date=_local_today(community, start) + 25 * D)
        updater = _first_member(urban) or official
        services.post_progress(updater, overdue, body="已约谈施工单位，隔音屏材料在采购中。", percent=30,
                               now=start + 8 * D)
    greenery = _issue(community, "绿化带杂草丛生", done_states)
    if greenery is not None:
        start = now - 20 * D
        create(chair, start, source="issue", issue=greenery, title="中心花园补种绿植并加装驱蚊灯",
               description="修剪后的裸露地块补种绿植，花园四角加装驱蚊灯。", responsible_org=company, owner=staff,
               due_date=_local_today(community, start) + 18 * D, budget="3500")

    # a hotspot of the sub-district official, split into three steps
    lighting = db.session.scalar(db.select(IssueCategory).where(
        IssueCategory.community_id == community.id, IssueCategory.code == "lighting"))
    building = db.session.scalar(db.select(Building).where(Building.community_id == community.id)
                                 .order_by(Building.code).limit(1))
    if lighting is not None and building is not None:
        month = in_zone(now, community.time_zone).strftime("%Y-%m")
        spot = create(official, now - 4 * D, source="hotspot",
                      hotspot={"building": building, "category": lighting, "month": month},
                      title=f"{building.name}楼道照明集中整治",
                      description="本月该楼楼道照明报修明显高于往月，请物业集中排查整治。",
                      responsible_org=company, owner=staff, due_date=today + 20 * D)
        steps = [create(staff, now - 4 * D + H, parent=spot, source="hotspot", title=title,
                        responsible_org=company, owner=staff, due_date=today + days * D)
                 for title, days in (("排查各楼层灯具和线路", 3), ("更换声控感应灯", 12), ("验收并张贴维修公示", 20))]
        services.complete(staff, steps[0], note="共排查6层12处灯具，发现7处损坏、2处线路老化。",
                          photos=[photo((200, 190, 120), 4)], now=now - 2 * D)
        services.post_progress(staff, steps[1], body="已更换3至6层感应灯。", percent=50, now=now - 5 * H)

    # chases by the official: the overdue action and an overdue open issue
    if overdue is not None and services.overdue_now(overdue, now):
        services.chase(official, "action", overdue, note="已超期，请城管科本周内督促施工单位完成隔音屏安装并反馈。",
                       new_due=today + 7 * D, now=now)
    late = next((i for i in db.session.scalars(db.select(Issue).where(
        Issue.community_id == community.id, Issue.status.in_(OPEN_STATES), Issue.resolve_by < now)
        .order_by(Issue.id)).all() if (i.handover_org_id or i.handling_org_id)), None)
    if late is not None:
        services.chase(official, "issue", late, note="该诉求已超过办结时限，请尽快处理并回复居民。",
                       new_due=today + 3 * D, now=now)
    db.session.flush()

    top = [a for a in made if a.parent_id is None]
    states = ", ".join(sorted({a.status for a in made}))
    late_actions = sum(services.is_overdue(a, today) for a in top)
    evaluated = sum(a.evaluated_at is not None for a in made)
    chases = db.session.scalar(db.select(db.func.count(Chase.id)).where(Chase.community_id == community.id))
    volunteers = sum(a.volunteer_count for a in made)
    summoned = db.session.scalar(db.select(db.func.count(ActionSummons.id)).join(
        Action, Action.id == ActionSummons.action_id).where(Action.community_id == community.id))
    joint = db.session.scalar(db.select(db.func.count(Action.id)).where(
        Action.community_id == community.id, Action.joint_issue_id.is_not(None)))
    return [f"{community.name}: {len(top)} actions and {len(made) - len(top)} steps ({states}; {late_actions} overdue, "
            f"{evaluated} evaluated), {chases} chases, {volunteers} volunteers, {summoned} organizations summoned "
            f"to actions, {joint} joint handlings of whistle-blown issues"]
