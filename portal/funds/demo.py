"""Demo funds of 花家地社区, made through the services:

- 花家地社区公益金 (the residents' committee keeps it): the sub-district's grant and a donation as income (the
  donation later corrected: the bank credited less), allocations to two agreed actions and to a project,
  spending with receipts (a generated PNG photo and a generated PDF invoice; one paid to a person, whose name
  the public page masks), one spending beyond its allocation on the committee meeting's decision (the
  allocation raised and the decision linked), a refund, and a project allocated four months ago with nothing
  spent (idle on the funds dashboard);
- 花家地小区专项维修资金 (the homeowners' committee keeps it): the owners' deposits, an allocation for the lift
  ropes of building 3 and its spending, tied to the owners' decision on matter (5) of art. 278 that passed
  last year (a closed ballot of the estate);
- two budget rounds on the public-welfare fund: 2026年微实事（第一期）, finished (a project merged, one rejected
  with its public reason, the votes, one project skipped as it no longer fitted, the winners' actions spending
  with receipts, one done and rated) and （第二期）, in voting (its projects accepted; ballots are cast on the
  ballot pages).

Runs after the actions demo; skips what is missing. Idempotent: a community with funds is left alone."""
import io
import zlib
from datetime import timedelta

from PIL import Image, ImageDraw

from portal.actions.models import Action
from portal.auth.models import User
from portal.clock import local_today, utcnow
from portal.committees.models import Decision, Meeting, Organization
from portal.demo_people import COMMUNITY_PEOPLE
from portal.extensions import db
from portal.funds import services
from portal.funds.models import Fund
from portal.places.models import Community, default_estate
from portal.proposals.models import Proposal
from portal.votes.counting import Figures, decide
from portal.votes.models import Ballot, BallotOption

SLUG = "huajiadi"
D = timedelta(days=1)
ROPES_QUESTION = "是否同意动用专项维修资金更换3号楼电梯曳引钢丝绳（约4.6万元）？"


def receipt_png(text: str) -> services.Receipt:
    """A small picture of a till receipt."""
    image = Image.new("RGB", (360, 520), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    for k in range(12):
        draw.rectangle((30, 60 + k * 34, 330 - (k * 17) % 120, 72 + k * 34), fill=(90, 90, 90))
    draw.rectangle((30, 20, 200, 40), fill=(180, 30, 30))
    out = io.BytesIO()
    image.save(out, "PNG")
    return services.Receipt(out.getvalue(), f"{text}.png")


def receipt_pdf(text: str) -> services.Receipt:
    """A one-page PDF invoice, written by hand (nothing in it but a page of text)."""
    stream = zlib.compress(b"BT /F1 20 Tf 60 760 Td (Invoice / Fapiao) Tj 0 -30 Td (Yishi demo) Tj ET")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length " + str(len(stream)).encode() + b" /Filter /FlateDecode >>\nstream\n" + stream
               + b"\nendstream", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return services.Receipt(bytes(out), f"{text}.pdf")


def _person(phone):
    return db.session.scalar(db.select(User).where(User.phone == phone))


def _org(community, kind):
    return db.session.scalar(db.select(Organization).where(Organization.community_id == community.id,
                                                           Organization.kind == kind).order_by(Organization.id))


def _ropes_decision(community, estate, hoa, chair, now) -> Ballot:
    """Last year's owners' decision on using the maintenance fund (matter 5), decided on paper before the
    portal; recorded as a closed ballot of the estate with its outcome."""
    proposal = Proposal(community_id=community.id, author_id=chair.id,
                        title="更换3号楼电梯曳引钢丝绳", status="decided", outcome="passed",
                        summary="电梯维保单位检测发现3号楼电梯曳引钢丝绳磨损超标，须整体更换。",
                        created_at=now - 400 * D, updated_at=now - 330 * D)
    db.session.add(proposal)
    db.session.flush()
    ballot = Ballot(proposal_id=proposal.id, community_id=community.id, organization_id=hoa.id,
                    opened_by_id=chair.id, method="owners", matter=5, estate_id=estate.id, scope="estate",
                    co_owner_headcount="separate", question=ROPES_QUESTION, status="closed", result="passed",
                    opens_at=now - 360 * D, closes_at=now - 345 * D, frozen_at=now - 360 * D,
                    closed_at=now - 345 * D, created_at=now - 380 * D, outcome_by_id=chair.id,
                    outcome_at=now - 344 * D,
                    outcome_statement="纸质表决：参与表决的专有部分面积和人数均超过三分之二，同意的面积和人数均超过参与表决的"
                                      "二分之一，表决通过（《民法典》第二百七十八条第五项）。")
    db.session.add(ballot)
    db.session.flush()
    # The paper count: 120 units (10,000 m²), 100 took part (9,000 m²); yes 80 (7,200 m²).
    counts = {"yes": (80, 720_000), "no": (15, 135_000), "abstain": (5, 45_000)}
    by_option = {}
    for position, (code, label) in enumerate((("yes", "同意"), ("no", "不同意"), ("abstain", "弃权"))):
        option = BallotOption(ballot_id=ballot.id, position=position, code=code, label=label,
                              live_count=counts[code][0], live_area_cm=counts[code][1])
        db.session.add(option)
        db.session.flush()
        by_option[option.id] = counts[code]
    figures = Figures(electorate_count=120, electorate_area=1_000_000, voted_count=100, voted_area=900_000,
                      by_option=by_option)
    ballot.electorate_count, ballot.electorate_area_cm = 120, 1_000_000
    ballot.voted_count, ballot.voted_area_cm = 100, 900_000
    ballot.figures = figures.as_json()
    db.session.flush()
    ballot.result = decide(ballot, figures)[0]
    return ballot


def seed_funds() -> list[str]:
    community = db.session.scalar(db.select(Community).where(Community.slug == SLUG))
    if community is None:
        return []
    if db.session.scalar(db.select(Fund.id).where(Fund.community_id == community.id).limit(1)) is not None:
        return [f"{community.name}: funds already seeded"]
    people = COMMUNITY_PEOPLE[SLUG]
    chair, hoa_chair = _person(people["chair"][0]), _person(people["hoa_chair"][0])
    rc, hoa = _org(community, "residents_committee"), _org(community, "homeowners_committee")
    if None in (chair, hoa_chair, rc, hoa):
        return []
    now = utcnow()
    today = local_today(community.time_zone)
    actions = db.session.scalars(db.select(Action).where(Action.community_id == community.id,
                                                         Action.parent_id.is_(None))
                                 .order_by(Action.id).limit(2)).all()
    decision = db.session.scalar(db.select(Decision).join(Meeting, Decision.meeting_id == Meeting.id)
                                 .where(Meeting.community_id == community.id).order_by(Decision.id).limit(1))

    fund = services.create_fund(chair, kind="public_welfare", name=f"{community.name}公益金", community=community,
                                managing_org=rc, description="街道每年拨付的社区公益金，用于居民议事确定的公益项目。")
    services.record_income(chair, fund, 5_000_000, source="望京街道拨付2026年度社区公益金",
                           occurred_on=today - 150 * D)
    donation = services.record_income(chair, fund, 800_000, source="辖区单位捐赠", occurred_on=today - 120 * D)
    services.correct_entry(chair, donation, 780_000, reason="银行到账780元，捐赠单位扣除了转账手续费",
                           occurred_on=today - 118 * D)
    lines = []
    if actions:
        first = services.allocate(chair, fund, 1_200_000, action=actions[0], occurred_on=today - 100 * D).allocation
        services.record_spending(chair, fund, first, 460_000, payee="北京明亮照明工程有限公司",
                                 payee_kind="organization", receipt=receipt_pdf("照明工程发票"),
                                 occurred_on=today - 70 * D, description="灯具与安装")
        spent = services.record_spending(chair, fund, first, 85_000, payee="刘建国", payee_kind="person",
                                         receipt=receipt_png("零工劳务收据"), occurred_on=today - 60 * D,
                                         description="夜间施工看护劳务费")
        services.record_refund(chair, fund, spent, 5_000, occurred_on=today - 55 * D, description="少用半天，退回")
        if decision is not None:  # beyond its allocation: the meeting's decision raised it
            services.record_spending(chair, fund, first, 720_000, payee="北京明亮照明工程有限公司",
                                     payee_kind="organization", receipt=receipt_pdf("照明工程追加发票"),
                                     occurred_on=today - 30 * D, decision=decision,
                                     description="车库增加应急照明（会议决定追加）")
    if len(actions) > 1:
        second = services.allocate(chair, fund, 600_000, action=actions[1], occurred_on=today - 40 * D).allocation
        services.record_spending(chair, fund, second, 230_000, payee="北京安居门禁科技有限公司",
                                 payee_kind="organization", receipt=receipt_png("门禁维修收据"),
                                 occurred_on=today - 10 * D)
    idle = services.allocate(chair, fund, 900_000, title="楼道适老化扶手（1—4号楼）", occurred_on=today - 120 * D)
    idle.allocation.created_at = now - 120 * D  # allocated four months ago, nothing spent: idle on the dashboard
    lines += seed_budget_rounds(community, fund, chair, today)
    lines.append(f"{community.name}: fund {fund.name} with {fund.entry_count} ledger entries, balance "
                 f"{services.format_fen(fund.balance_fen)} yuan (kept by {chair.phone})")

    estate = default_estate(db.session, community)
    ropes = _ropes_decision(community, estate, hoa, hoa_chair, now)
    maintenance = services.create_fund(hoa_chair, kind="maintenance", name=f"{estate.name}专项维修资金",
                                       estate=estate, managing_org=hoa)
    services.record_income(hoa_chair, maintenance, 120_000_000, source="业主缴存的专项维修资金（转入）",
                           occurred_on=today - 200 * D)
    allocation = services.allocate(hoa_chair, maintenance, 4_600_000, title="3号楼电梯曳引钢丝绳更换",
                                   occurred_on=today - 180 * D).allocation
    services.record_spending(hoa_chair, maintenance, allocation, 4_580_000, payee="北京通达电梯工程有限公司",
                             payee_kind="organization", receipt=receipt_pdf("电梯维修发票"),
                             occurred_on=today - 160 * D, owners_decision=ropes)
    lines.append(f"{community.name}: fund {maintenance.name}, spending tied to the owners' decision no. {ropes.id} "
                 f"(kept by {hoa_chair.phone})")
    db.session.flush()
    return lines


# --- budget rounds ------------------------------------------------------------------------------------------

FINISHED_PROJECTS = (  # title, where, estimated yuan, reviewed yuan (None: rejected / merged)
    ("小花园增设休闲座椅", "2号楼南侧小花园", "12500", "12000"),
    ("儿童游乐区更换软胶地垫", "中心广场儿童游乐区", "21000", "20000"),
    ("单元门口加装雨棚", "5—8号楼单元门", "9500", "9000"),
    ("垃圾分类投放点洗手池", "3号楼东侧投放点", "6000", "6000"),
    ("花园座椅旁加装遮阳伞", "2号楼南侧小花园", "3000", None),  # merged into the benches
    ("地下车库改建乒乓球室", "地下车库", "28000", None),  # rejected
)
# Each voter's selection (indexes into FINISHED_PROJECTS), each within the round's 30,000 yuan: benches and
# the canopy tie at 4 votes (the lower cost goes first), the play area's 20,000 no longer fits after them and
# is skipped, the sink is funded from what remains.
FINISHED_BALLOTS = ((0, 2, 3), (0, 2, 3), (0, 2), (0,), (1, 2), (1,), (1,))
VOTING_PROJECTS = (("楼道感应灯更换", "1—4号楼楼道", "8000", "7800"),
                   ("社区图书角书架", "居委会一层", "5000", "4600"),
                   ("健身器材维修", "北门健身区", "9000", "8500"),
                   ("非机动车棚充电桩", "6号楼西侧车棚", "15000", "14000"))


def _residents(community, n):
    from portal.places.models import Residency
    return db.session.scalars(db.select(User).join(Residency, Residency.user_id == User.id).where(
        Residency.community_id == community.id, Residency.status == "verified").distinct()
        .order_by(User.id).limit(n)).all()


def _round_days(today, first):
    return {"proposing_from": today + first * D, "review_from": today + (first + 15) * D,
            "voting_from": today + (first + 25) * D, "voting_until": today + (first + 35) * D,
            "results_from": today + (first + 36) * D}


def _propose(round_, author, title, where, cost, hours):
    from portal.funds import rounds
    return rounds.propose_project(author, round_, title=title, summary=f"{title}，方便居民日常使用。", location=where,
                                  estimated_cost=cost, now=round_.proposing_from + hours * timedelta(hours=1))


def _votes(round_, voters, projects):
    """The finished round's ballots, cast through the casting service while it was voting, so its log,
    receipts and counts are real (`flask funds verify-round` checks them)."""
    from portal.funds.budget_ballot import cast_ballot, voter_key
    voters = [v for v in voters if voter_key(v, round_) is not None]
    for n, (voter, chosen) in enumerate(zip(voters, FINISHED_BALLOTS, strict=False)):
        cast_ballot(voter, round_, [projects[i].id for i in chosen],
                    now=round_.voting_from + (n + 1) * timedelta(hours=3))


def _finished_round(fund, chair, reviewer, residents, today) -> list[str]:
    """A round from three months ago: reviewed (one merged, one rejected), voted, published; its winners'
    actions spent money with receipts, one is done and rated."""
    from portal.actions.services import complete, rate
    from portal.funds import rounds
    round_ = rounds.create_round(chair, fund, title="2026年微实事（第一期）", total="30000", ballot_kind="knapsack",
                                 tie_rule="lower_cost", dates=_round_days(today, -90),
                                 description="居民提出、评审、投票决定的社区小微项目，每户一票以外的事项请到议事会。")
    projects = [_propose(round_, residents[n % len(residents)], title, where, cost, n + 1)
                for n, (title, where, cost, _reviewed) in enumerate(FINISHED_PROJECTS)]
    review_at = round_.review_from + timedelta(hours=10)
    for project, (_title, _where, _cost, reviewed) in zip(projects, FINISHED_PROJECTS, strict=True):
        if reviewed is not None:
            rounds.review_project(reviewer, project, decision="accept", reviewed_cost=reviewed, now=review_at)
    rounds.review_project(reviewer, projects[4], decision="merge", merge_into=projects[0],
                          reason="与小花园座椅项目合并，一并实施。", now=review_at)
    rounds.review_project(reviewer, projects[5], decision="reject", reason="地下车库为人防工程，不得改变用途。",
                          now=review_at)
    _votes(round_, residents, projects)
    rounds.publish_results(chair, round_, now=round_.results_from + timedelta(hours=9))
    winners = [p for p in projects if p.funded]
    spend_days = (40, 25, 12)
    for project, days in zip(winners, spend_days, strict=False):
        services.record_spending(chair, fund, project.allocation, project.reviewed_cost_fen - 35_000,
                                 payee="北京宜居社区工程有限公司", payee_kind="organization",
                                 receipt=receipt_pdf(f"{project.proposal.title}发票"), occurred_on=today - days * D,
                                 description=project.proposal.title)
    done = winners[0].action
    done_at = utcnow() - 5 * D
    complete(chair, done, note="座椅已安装完毕，居民已在使用。", photos=[receipt_png("座椅").data], now=done_at)
    for resident, satisfaction in zip(residents, ("satisfied", "satisfied", "basically_satisfied", "dissatisfied"),
                                      strict=False):
        rate(resident, done, satisfaction, now=done_at + D)
    return [f"{fund.community.name}: budget round “{round_.title}” finished: {len(winners)} projects funded, "
            f"their actions spending (round {round_.id})"]


def _voting_round(fund, chair, reviewer, residents, today) -> list[str]:
    """A round in its voting phase: every project accepted with a reviewed cost; the ballots are cast on the
    ballot pages."""
    from portal.funds import rounds
    round_ = rounds.create_round(chair, fund, title="2026年微实事（第二期）", total="20000", ballot_kind="knapsack",
                                 tie_rule="earlier_proposed", dates=_round_days(today, -28))
    review_at = round_.review_from + timedelta(hours=10)
    for n, (title, where, cost, reviewed) in enumerate(VOTING_PROJECTS):
        project = _propose(round_, residents[n % len(residents)], title, where, cost, n + 1)
        rounds.review_project(reviewer, project, decision="accept", reviewed_cost=reviewed, now=review_at)
    return [f"{fund.community.name}: budget round “{round_.title}” in voting until "
            f"{(today + 7 * D).isoformat()} (round {round_.id})"]


def seed_budget_rounds(community, fund, chair, today) -> list[str]:
    """A finished round and one in voting on the community's public-welfare fund, its money topped up first."""
    residents = _residents(community, 8)
    if len(residents) < 4:
        return []
    services.record_income(chair, fund, 6_000_000, source="望京街道拨付2026年度微实事专项资金",
                           occurred_on=today - 95 * D)
    return _finished_round(fund, chair, chair, residents, today) + _voting_round(fund, chair, chair, residents, today)
