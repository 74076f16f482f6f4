"""Demo issues: the default categories of each community and about twenty issues in every state —
submitted, accepted, in progress, handed over and waiting, resolved and waiting for a rating, closed with
each satisfaction and unrated, rejected, duplicate, reopened, overdue, some with "me too" supports —
spread over the last 60 days so deadlines and the three rates mean something — and 12345 hotline work
orders in every state (waiting to be signed for, signed, sent back, returned to the hotline, extended, an
extension waiting, resolved with the closure report, return-visited, three failed calls, appealed, appeal
upheld, whistle-blown with two organizations reporting in, one on time and one late; one whose second
organization never reported in and was warned; one whose summons are still within their time), and the basis
of some categories in the responsibility list. Idempotent: a community that
already has issues is left alone. Runs after the places and people demos and skips what is missing."""
from datetime import timedelta

from portal.clock import utcnow
from portal.demo_people import COMMUNITY_SLUGS
from portal.extensions import db
from portal.issues import services
from portal.issues.models import Issue
from portal.places.models import Building, Community, Residency

H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)

# (days ago, category, title, description, story, supports). The story is the list of steps after the
# report, each (hours after the report, step, argument).
STORIES = [
    (0.05, "lift", "电梯停运", "3号楼东侧电梯停在5层不动，老人上下楼很困难。", [], 2),
    (3, "lighting", "楼道灯不亮", "2单元3到6层楼道灯都不亮，晚上上楼看不见台阶。", [], 1),
    (2, "rubbish", "垃圾清运不及时", "北门垃圾站已经两天没清运，味道很大。",
     [(2, "accept", "今天下午安排清运车。")], 2),
    (5, "leak", "地下室漏水", "地下室车库西北角一直在渗水，地面有积水。",
     [(3, "accept", ""), (20, "start", None), (30, "update", "已找到漏点，是消防管道接头老化，等待配件。")], 2),
    (20, "facilities", "外墙瓷砖脱落", "5号楼南面外墙有瓷砖掉落，楼下是出入口，很危险。",
     [(10, "accept", "已拉警戒线。"), (30, "start", None), (100, "update", "正在申请维修资金，需业委会同意。")], 1),
    (1.5, "parking", "违规停车堵塞消防通道", "每天晚上都有车停在6号楼前的消防通道上。",
     [(4, "hand_over", "小区内部道路由物业管理，请物业先劝离并加装隔离桩。")], 2),
    (3, "security", "单元门禁损坏", "1单元门禁刷卡没反应，门一直开着。",
     [(1, "accept", ""), (30, "resolve", "已更换门禁读卡器，测试正常。")], 0),
    (40, "noise", "夜间施工噪音", "小区东侧工地晚上11点后还在施工，噪音很大。",
     [(5, "accept", "已联系施工单位。"), (26, "resolve", "施工单位承诺22点后停工，城管将夜查。"),
      (50, "rate", (True, "satisfied", "这几天晚上安静多了，谢谢！"))], 2),
    (35, "greenery", "绿化带杂草丛生", "中心花园绿化带很久没修剪，有蚊虫。",
     [(8, "accept", ""), (60, "start", None), (100, "resolve", "已修剪并喷洒灭蚊药。"),
      (130, "rate", (True, "basically_satisfied", "修剪了，但还有些死角。"))], 1),
    (45, "heating", "暖气不热", "8号楼顶层室温只有14度。",
     [(3, "accept", ""), (20, "resolve", "已排气，室温恢复。"),
      (40, "rate", (False, "dissatisfied", "第二天又不热了。")), (42, "accept", "再次安排检修。"),
      (60, "resolve", "更换了单元阀门。"), (80, "rate", (True, "dissatisfied", "热了，但拖得太久。"))], 0),
    (30, "water", "停水通知不及时", "昨天突然停水一整天，事先没有任何通知。",
     [(5, "accept", ""), (20, "resolve", "已与自来水公司约定，今后提前一天在单元门张贴通知。")], 1),
    (12, "neighbours", "楼上邻居装修时间过长", "楼上装修已经四个月了，周末也施工。",
     [(10, "reject", "装修在规定时间内施工，不属于违规；居委会已上门调解，请继续沟通。")], 0),
    (4, "leak", "地下室漏水严重", "车库地面积水越来越多。", [(6, "merge", 3)], 0),
    (14, "rubbish", "垃圾桶满溢", "西门垃圾桶每天中午就满了。",
     [(2, "accept", ""), (20, "resolve", "增加了一个垃圾桶。"),
      (60, "rate", (False, "dissatisfied", "还是不够，中午照样满。"))], 1),
    (6, "facilities", "健身器材损坏", "中心广场的两台健身器材松动，孩子玩耍有危险。", [], 2),
    (10, "lighting", "路灯不亮", "南门到3号楼之间的三盏路灯都不亮。",
     [(5, "accept", ""), (30, "start", None)], 1),
    (1, "gas", "燃气异味", "7号楼2单元楼道有明显燃气味。", [(0.5, "accept", "燃气公司已到场检测。")], 0),
    (55, "lift", "电梯异响", "4号楼电梯运行时有很响的摩擦声。",
     [(1, "accept", ""), (10, "resolve", "维保单位已更换导靴。"),
      (20, "rate", (True, "satisfied", "修得很快。"))], 0),
    (8, "facilities", "自行车棚漏雨", "自行车棚顶棚破了几个洞，下雨车都淋湿了。",
     [(20, "accept", ""), (40, "start", None), (60, "update", "材料已采购，周末施工。")], 1),
]
HOTLINE_STORY = 16  # 燃气异味 arrives from the 12345 hotline


def _verified_residents(community):
    return db.session.scalars(db.select(Residency).where(
        Residency.community_id == community.id, Residency.status == "verified").order_by(Residency.id)).all()


def _handler(issue):
    """Someone who may act for the issue's handling organization, else an official of its sub-district."""
    members = services.members_of([issue.handling_org_id]) or services.members_of(
        [o.id for o in services.handover_targets(issue) if o.kind == "subdistrict_office"])
    return members[0] if members else None


def _play(issue, story, start, reporter, earlier):
    for hours, step, argument in story:
        at = start + hours * H
        if step == "rate":
            resolved, satisfaction, comment = argument
            services.rate_issue(reporter, issue, resolved=resolved, satisfaction=satisfaction, comment=comment,
                                now=at)
            continue
        handler = _handler(issue)
        if handler is None:
            return
        if step == "accept":
            services.accept_issue(handler, issue, note=argument, now=at)
        elif step == "start":
            services.start_work(handler, issue, now=at)
        elif step == "update":
            services.post_update(handler, issue, argument, now=at)
        elif step == "resolve":
            services.resolve_issue(handler, issue, argument, now=at)
        elif step == "reject":
            services.reject_issue(handler, issue, argument, now=at)
        elif step == "merge":
            services.merge_duplicate(handler, issue, earlier[argument], now=at)
        elif step == "hand_over":
            target = next((o for o in services.handover_targets(issue) if o.kind == "property_company"), None)
            if target is not None:
                services.hand_over(handler, issue, target, argument, now=at)


# The 12345 work orders (issue #20), one in each state: (days ago, category, title, the steps it went through).
WORK_ORDERS = [
    (0.02, "lift", "电梯按钮失灵（12345）", []),
    (0.5, "lighting", "单元门口灯坏了（12345）", ["sign"]),
    (0.1, "parking", "小区外道路停车收费（12345）", ["send_back"]),
    (4, "neighbours", "邻居饲养宠物纠纷（12345）", ["send_back", "return"]),
    (6, "facilities", "消防通道地面塌陷（12345）", ["sign", "extension", "approve"]),
    (5, "leak", "楼顶防水层破损（12345）", ["sign", "extension"]),
    (2, "rubbish", "建筑垃圾堆放（12345）", ["sign", "resolve"]),
    (4, "greenery", "树枝遮挡窗户（12345）", ["sign", "resolve", "visit_basically"]),
    (4, "water", "水压不足（12345）", ["sign", "resolve", "visit_missed", "visit_missed", "visit_missed"]),
    (5, "heating", "暖气漏水（12345）", ["sign", "resolve", "redone", "visit_unsolved", "appeal"]),
    (6, "security", "监控探头损坏（12345）", ["sign", "resolve", "redone", "visit_unsolved", "appeal",
                                           "uphold"]),
    (3, "rubbish", "小区门口占道经营（12345）", ["sign", "whistle"]),
    (1, "parking", "占用消防通道停车（12345）", ["sign", "whistle_missing"]),
    (1, "noise", "夜间施工噪音扰民（12345）", ["sign", "whistle_waiting"]),
]
# The responsibility list (责任清单): the basis of some categories' responsible organization.
BASES = {
    "lift": "《中华人民共和国特种设备安全法》第三十九条；物业服务合同",
    "water": "《城市供水条例》；物业服务合同",
    "rubbish": "《北京市生活垃圾管理条例》第三十二条",
    "parking": "《北京市机动车停车条例》第二十八条",
    "noise": "《中华人民共和国噪声污染防治法》",
    "neighbours": "《中华人民共和国人民调解法》",
}


def _whistle(office, issue, at, outcome="both"):
    """Whistle-blowing (吹哨报到): the office summons the handling organization and a department. "both": the
    first reports in on time, the second late; "missing": the first reports in, the second never does (late,
    and warned by the run-due step); "waiting": summoned for two days, nobody has reported in yet."""
    handling = [o for o in services.summons_targets(issue) if o.id == issue.handling_org_id]
    departments = [o for o in services.summons_targets(issue) if o.kind == "department"]
    summoned = [o for o in handling + departments if services.members_of([o.id])][:2]
    if len(summoned) < 2:
        return
    made = services.blow_whistle(office, issue, summoned, report_within=2880 if outcome == "waiting" else 60,
                                 reason="涉及城管执法和物业管理，需要联合处置。", now=at)
    if outcome == "waiting":
        return
    services.report_in(services.members_of([made[0].organization_id])[0], made[0], attendee="物业经理 张强",
                       action="清理门口堆放物品，安排保安值守。", action_due=at + 2 * D, now=at + 20 * M)
    if outcome == "missing":
        services.warn_late_summonses(at + 2 * H)
        return
    services.report_in(services.members_of([made[1].organization_id])[0], made[1], attendee="科室工作人员 刘军",
                       action="督促整改，对占道摊贩进行劝导。", action_due=at + 3 * D, now=at + 3 * H)


def _office_staff(issue):
    """A member of the sub-district office who is not of the handling organization (makes the return visits)."""
    office = [o.id for o in services.handover_targets(issue) if o.kind == "subdistrict_office"]
    handling = {u.id for u in services.members_of([issue.handling_org_id])}
    return next((u for u in services.members_of(office) if u.id not in handling), None)


def _seed_work_orders(community, categories, now) -> int:
    made = 0
    for days_ago, code, title, steps in WORK_ORDERS:
        start = now - days_ago * D
        issue = services.report_from_hotline(community, category=categories[code], title=title,
                                             description="12345 热线转来的工单。", reporter_name="市民 李女士",
                                             reporter_phone="13600000000", now=start)
        made += 1
        handler, office = _handler(issue), _office_staff(issue)
        if handler is None or office is None:
            continue
        at = start
        for step in steps:
            at += H
            if step == "sign":
                services.sign_for(handler, issue, note="已签收，马上处理。", now=at)
            elif step == "send_back":
                services.send_back(handler, issue, "not_our_area", "该路段属于市政道路，不归物业管理。", now=at)
            elif step == "return":
                services.return_to_hotline(office, issue, "属于邻里民事纠纷，建议通过人民调解解决。", now=at)
            elif step == "extension":
                services.request_extension(handler, issue, "需要等待专业施工队和材料。", issue.resolve_by + 2 * D,
                                           now=at)
            elif step == "approve":
                services.decide_extension(office, issue, approve=True, now=at)
            elif step == "resolve":
                services.resolve_issue(handler, issue, "已处理完毕，并电话告知来电人。", caller_contacted=True,
                                       contact_method="phone", now=at)
            elif step == "redone":
                issue.reopen_count = 1  # already redone once: a dissatisfied answer now closes it
            elif step == "visit_basically":
                services.record_return_visit(office, issue, contacted=True, solved=True,
                                             satisfaction="basically_satisfied", words="处理了，还可以。", now=at)
            elif step == "visit_missed":
                services.record_return_visit(office, issue, contacted=False, now=at)
            elif step == "visit_unsolved":
                services.record_return_visit(office, issue, contacted=True, solved=False,
                                             satisfaction="dissatisfied", words="要求全部免费更换。", now=at)
            elif step == "appeal":
                services.appeal_rating(handler, issue, "来电人要求超出物业服务合同范围，已书面答复。", now=at)
            elif step.startswith("whistle"):
                _whistle(office, issue, at, step.removeprefix("whistle_") if "_" in step else "both")
            elif step == "uphold":
                services.decide_appeal(office, issue, upheld=True, reason="经核实，诉求超出职责范围，核减。", now=at)
    return made


def _seed_community(community, now) -> list[str]:
    categories = {c.code: c for c in services.ensure_default_categories(community)}
    for code, basis in BASES.items():
        if code in categories and not categories[code].basis:
            categories[code].basis = basis
    for code, keywords in services.DEFAULT_KEYWORDS.items():  # what the category suggestion falls back to
        if code in categories and not categories[code].keywords:
            categories[code].keywords = keywords
    residencies = _verified_residents(community)
    if not residencies:
        return []
    if db.session.scalar(db.select(Issue.id).where(Issue.community_id == community.id).limit(1)) is not None:
        return [f"{community.name}: issues already seeded"]
    people = [r.user for r in residencies]
    buildings = db.session.scalars(db.select(Building).where(Building.community_id == community.id)
                                   .order_by(Building.code)).all()
    issues = []
    for n, (days_ago, code, title, description, story, supports) in enumerate(STORIES):
        start = now - days_ago * D
        reporter = people[n % len(people)]
        residency = residencies[n % len(residencies)]
        if n == HOTLINE_STORY:
            issue = services.report_from_hotline(community, category=categories[code], title=title,
                                                 description=description, reporter_name="市民 张先生",
                                                 reporter_phone="13500000000", now=start)
            reporter = None
        else:
            building = buildings[n % len(buildings)] if buildings else None
            household = residency.household if residency.household and n % 3 == 0 else None
            issue = services.report_issue(reporter, community, category=categories[code], title=title,
                                          description=description,
                                          building=household.building if household else building,
                                          household=household, show_name=n % 4 == 0, now=start)
        issues.append(issue)
        supporters = [p for p in people if p.id != getattr(reporter, "id", None)][:supports]
        for k, person in enumerate(supporters):
            services.support_issue(person, issue, now=start + (k + 1) * 10 * timedelta(minutes=1))
        _play(issue, story, start, reporter, issues)
    work_orders = _seed_work_orders(community, categories, now)
    for issue in issues:
        services.apply_due(issue, now)
    db.session.flush()
    suggester = services.train_category_model(community, now=now)  # the report form's suggested category
    states = sorted({i.status for i in issues})
    overdue = sum(services.is_overdue(i, now) for i in issues)
    return [f"{community.name}: {len(issues)} issues ({', '.join(states)}; {overdue} overdue), "
            f"{work_orders} hotline work orders; category suggestion by {suggester.method}"]


def seed_issues() -> list[str]:
    """Categories and issues for each demo community. Returns summary lines."""
    now = utcnow()
    lines = []
    for slug in COMMUNITY_SLUGS:
        community = db.session.scalar(db.select(Community).where(Community.slug == slug))
        if community is not None:
            lines += _seed_community(community, now)
    return lines
