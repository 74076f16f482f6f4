"""Demo ballots for 花家地社区, one in every state this area knows:

- an owners' decision on matter (5), using the maintenance fund to redo the 5A roof, announced to every
  owner and waiting for its voting days (the roof proposal goes to voting);
- an owners' decision on matter (4), renewing the property company, open for four days: owners voted
  online (the buyer of three units once), others on paper entered by the homeowners' committee (one with
  a scan of the signed form), and one owner changed his vote; proxies (书面委托): an owner without an
  account whose relative's paper ballot was entered "by proxy", a resident holding an owner's proxy who has
  not voted yet, and an authorization the owner revoked;
- a committee vote of the homeowners' committee, closed and passed, with its outcome statement (the
  public-income proposal is decided);
- a residents' vote with named choices (where the fitness equipment goes), closed by plurality;
- a residents' vote without quorum (the south gate's night hours): the proposal went back to consultation;
- a secret residents' vote with results hidden until close (a residents' representative), open;
- a residents' vote under the residents' meeting rule (居民会议, art. 10: more than half of the adult residents
  take part, more than half of them vote yes, abstentions counted) on an e-bike charging shed, closed and passed;
- an owners' decision on matter (8), the bicycle shed turned into a parcel-locker room, decided (passed) two
  months ago.

The owner roll before owners' ballots: the ground-floor annex unit of the first building was demolished in 2024
(its owner compensated, the ownership ended): the homeowners' committee recorded it as excluded with that reason,
so every owners' ballot shows it among its excluded units; any other unit without an owner is assigned to the
developer. One co-owned unit's co-owners named a representative, the only one who casts that unit's vote.

Owners need accounts to vote online: about sixty owners of the register get one (their register phone,
the demo password) and are linked by the homeowners' committee, as its members would after checking
papers at the counter. Idempotent: a community that already has ballots is left alone. Runs after the
proposals demo and skips what is missing."""
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from portal.audit.services import record
from portal.auth.models import User
from portal.clock import utcnow
from portal.committees.models import Organization
from portal.demo_people import COMMUNITY_PEOPLE, DEMO_PASSWORD, ensure_member, ensure_organization, ensure_user
from portal.extensions import db
from portal.places.models import Building, Community, Estate, Household, Owner, Ownership, Residency
from portal.proposals import services as proposals
from portal.proposals.models import Proposal
from portal.votes import services
from portal.votes.models import Ballot, BallotCaster, BallotVoter
from portal.votes.services import unowned

SLUG = "huajiadi"
H = timedelta(hours=1)
D = timedelta(days=1)
ZONE = ZoneInfo("Asia/Shanghai")

ROOF_TITLE = "动用维修资金翻新5A号楼屋面防水"
INCOME_TITLE = "定期公开小区公共收益"
# The homeowners' committee has five members: its chair (committees demo) and these four.
HOA_MEMBERS = [("13800002001", "钱委员"), ("13800002002", "严委员"), ("13800002003", "孔委员"),
               ("13800002004", "邱委员")]
OWNER_ACCOUNT_SHARE = 0.55  # of the register's owners with a phone and no account yet

ROOF_NOTICE = """花家地社区全体业主：

根据《民法典》第二百七十八条第一款第（五）项，使用建筑物及其附属设施的维修资金，由业主共同决定。业主委员会现就\
“动用专项维修资金翻新5A号楼屋面防水”事项组织业主表决，公告如下：

一、事由：5A号楼屋面防水层已使用超过15年，今年夏天顶层6户出现渗漏。
二、方案：铲除旧防水层，铺设SBS改性沥青卷材两道，更换破损排水口和雨水管；预算约38万元，从5A号楼专项维修资金列支。
三、表决规则：参与表决的业主专有部分面积和人数均须达到三分之二以上，且经参与表决的业主专有部分面积过半数、\
人数过半数同意，方为通过。
四、表决方式：在本平台在线投票，或在表决期间到业委会办公室（社区服务站二层）领取、填写纸质表决票。

施工方案、三家报价和维修资金余额公示于各单元门口及本平台议题页面。

花家地小区业主委员会"""

PROPERTY_NOTICE = """花家地社区全体业主：

花家地物业服务中心的服务合同将于明年3月31日到期。业主委员会根据业主大会议事规则，就“续聘花家地物业服务中心\
（2027—2029年）”组织业主表决（《民法典》第二百七十八条第一款第（四）项）。

续聘条件：物业费标准不变（多层住宅每月每平方米1.20元）；合同期三年；增加“每季度公开公共收益明细”\
和“报修24小时内响应”两项考核条款，考核不合格可提前解约。

参与表决的业主专有部分面积和人数均须达到三分之二以上，且经参与表决的业主专有部分面积过半数、人数过半数同意，\
方为通过。可在线投票，也可到业委会办公室填写纸质表决票。

花家地小区业主委员会"""

PROPERTY_BODY = """现物业服务合同明年3月底到期。过去三年：

- 报修平均响应时间从两天缩短到半天；
- 小区绿化和垃圾分类在街道考评中连续两年为“优”；
- 公共收益尚未定期公开（见“定期公开小区公共收益”议题）。

业委会与物业协商的续聘条件：物业费不涨，增加公共收益公开和报修响应两项考核条款。"""

FITNESS_BODY = """街道为小区配套了一组室外健身器材（漫步机、扭腰器、单杠、压腿架等八件），需要确定安装位置。\
居委会和设计人员实地看了三处：

1. **中心花园东侧草坪旁**：地方宽敞，离各楼都近，但要占用一部分草坪；
2. **北门活动室门前空地**：已经硬化，施工快，但离3号楼较近，早上可能有噪音；
3. **7号楼南侧小广场**：阳光好，但离1号楼、3号楼的老人比较远。"""

GATE_BODY = """最近南门夜间有外来车辆穿行，也有电动车深夜进出，住在南门旁的住户反映噪音和安全问题。

建议：南门每天23:00至次日6:00关闭，夜间只走北门（有保安值守）；南门加装刷卡小门，住户夜间可刷卡步行出入。"""

DELEGATE_BODY = """议事会原居民代表宋大哥因工作调动搬离小区，需要增补一名居民代表，任期到本届议事会届满。\
经居民推荐、本人同意，候选人三位（按姓氏笔画排序）：林女士、吴老师、罗先生。\
增补采用无记名投票，投票结束前不公布票数。"""


def _community():
    return db.session.scalar(db.select(Community).where(Community.slug == SLUG))


def _local(day: datetime, hour: int, minute: int = 0) -> datetime:
    """`day`'s date in Beijing at hour:minute, as a UTC moment."""
    local = day.astimezone(ZONE).date()
    return datetime.combine(local, time(hour, minute), tzinfo=ZONE).astimezone(day.tzinfo)


def _cast(community):
    logins = COMMUNITY_PEOPLE[SLUG]
    people = {role: db.session.scalar(db.select(User).where(User.phone == login))
              for role, (login, _name) in logins.items()}
    if people["chair"] is None or people["hoa_chair"] is None:
        return None
    hoa = db.session.scalar(db.select(Organization).where(Organization.community_id == community.id,
                                                          Organization.kind == "homeowners_committee"))
    if hoa is None:
        return None
    rc = db.session.scalar(db.select(Organization).where(Organization.community_id == community.id,
                                                         Organization.kind == "residents_committee"))
    if rc is None:
        return None
    members = [ensure_user(login, name) for login, name in HOA_MEMBERS]
    for member in members:
        ensure_member(hoa, member, "member")
    residents = db.session.scalars(db.select(User).join(Residency, Residency.user_id == User.id).where(
        Residency.community_id == community.id, Residency.status == "verified", Residency.is_adult.is_(True))
        .order_by(Residency.id)).all()
    by_name = {u.display_name.split()[0]: u for u in residents}
    return SimpleNamespace(chair=people["chair"], member=people["member"], hoa_chair=people["hoa_chair"],
                           hoa_members=members, hoa=hoa, rc=rc, residents=list(dict.fromkeys(residents)), named=by_name)


def _owner_accounts(community, cast, now) -> list[User]:
    """Accounts for a fixed share of the register's current owners, linked by the homeowners' committee.
    One password hash serves them all (hashing sixty passwords would slow the demo down for nothing)."""
    from portal.auth.services import hash_password
    today = now.astimezone(ZONE).date()
    owners = db.session.scalars(db.select(Owner).join(Ownership, Ownership.owner_id == Owner.id).where(
        Owner.community_id == community.id, Owner.is_developer.is_(False), Owner.phone.is_not(None),
        Owner.user_id.is_(None), Ownership.held_on(today)).distinct().order_by(Owner.id)).all()
    taken = set(db.session.scalars(db.select(User.phone).where(User.phone.in_([o.phone for o in owners]))))
    rng = random.Random(278)
    chosen = [o for o in owners if o.phone not in taken and rng.random() < OWNER_ACCOUNT_SHARE]
    password_hash = hash_password(DEMO_PASSWORD)
    linked_at = now - 30 * D
    accounts = []
    for owner in chosen:
        user = User(display_name=owner.name, phone=owner.phone, password_hash=password_hash, consented_at=linked_at,
                    created_at=linked_at, password_changed_at=linked_at)
        db.session.add(user)
        db.session.flush()
        owner.user_id = user.id
        owner.confirmed_by_id = cast.hoa_chair.id
        owner.confirmed_at = linked_at
        record(cast.hoa_chair, "owner.confirmed", owner, subject_user=user, phone_matched=True, demo=True)
        accounts.append(user)
    return accounts


def _proposal(community, author, mover, at, *, title, summary, body, category, reason, cost=None):
    """A proposal put into consultation by the committee two days after it was published."""
    proposal = proposals.create_proposal(author, community, title=title, summary=summary, body=body,
                                         category=category, estimated_cost=cost, publish=True, now=at)
    proposals.move_to_deliberation(mover, proposal, reason, now=at + 2 * D)
    return proposal


def _named(cast, *names):
    return [cast.named[n] for n in names if n in cast.named]


def _spread(start, end, n):
    """n moments spread over [start, end), a little irregular, in order."""
    rng = random.Random(n)
    span = (end - start).total_seconds()
    return sorted(start + timedelta(seconds=rng.uniform(0.02, 0.98) * span) for _ in range(n))


def _vote(person, ballot, code_or_label, at):
    option = next(o for o in ballot.options if code_or_label in (o.code, o.label))
    return services.cast(person, ballot, option.id, now=at)


# --- the owner roll ---------------------------------------------------------------------------------------

DEMOLISHED_REASON = "2024年3月因结构安全隐患拆除（房屋征收补偿已完成，产权注销）"


def _owner_roll(cast, community, now):
    """The demolished annex unit excluded, any other unit without an owner assigned to the developer, and one
    co-owned unit's representative: recorded by the homeowners' committee three months ago."""
    at = now - 90 * D
    building = db.session.scalar(db.select(Building).where(Building.community_id == community.id)
                                 .order_by(Building.id).limit(1))
    if building is None:
        return None
    annex = Household(building=building, entrance="1", room="101附", area_m2=Decimal("23.40"))
    db.session.add(annex)
    former = Owner(community=community, name="侯德明", phone=None, is_developer=False)
    db.session.add(former)
    db.session.flush()
    db.session.add(Ownership(household=annex, owner=former, start_date=date(2003, 9, 1),
                             end_date=date(2024, 3, 15)))
    db.session.flush()
    today = unowned.today_in(community, at)
    developer = db.session.scalar(db.select(Owner.id).where(Owner.community_id == community.id,
                                                           Owner.is_developer.is_(True)).limit(1))
    for unit in unowned.unresolved_units(community, today):
        if unit.household_id == annex.id or developer is None:
            unowned.resolve_unit(cast.hoa_chair, community, unit.household_id, resolution="excluded",
                                 reason=DEMOLISHED_REASON if unit.household_id == annex.id else "产权登记待核实",
                                 now=at)
        else:
            unowned.resolve_unit(cast.hoa_chair, community, unit.household_id, resolution="developer", now=at)
    named = None
    for unit in unowned.co_owned_units(community, today):
        linked = [o for o in unit.co_owners if o.user_id is not None]
        if linked:
            unowned.name_representative(cast.hoa_chair, community, unit.household_id, linked[0].id, now=at)
            named = (unit.label, linked[0].name)
            break
    return named


# --- the ballots -------------------------------------------------------------------------------------

def _roof_announced(cast, community, now):
    """Matter (5): announced two days ago, voting opens fifteen days after the announcement."""
    roof = db.session.scalar(db.select(Proposal).where(Proposal.community_id == community.id,
                                                       Proposal.title == ROOF_TITLE))
    if roof is None or roof.status != "deliberation":
        return None
    announced = _local(now - 2 * D, 10)
    opens = _local(announced + 16 * D, 9)
    return services.open_ballot(cast.hoa_chair, roof, method="owners", matter=5, notice=ROOF_NOTICE,
                                question="是否同意动用专项维修资金约38万元翻新5A号楼屋面防水？",
                                opens_at=opens, closes_at=opens + 14 * D, now=announced)


def _property_open(cast, community, now):
    """Matter (4): open for four days, ten to go; online votes, paper ballots, one changed vote."""
    start = now - 45 * D
    proposal = _proposal(community, cast.hoa_chair, cast.hoa_chair, start,
                         title="续聘花家地物业服务中心（2027—2029年）",
                         summary="现物业服务合同明年3月到期。业委会建议续聘三年，物业费不涨，增加公共收益公开和报修响应两项考核条款。",
                         body=PROPERTY_BODY, category="other",
                         reason="合同到期前须完成业主表决，业委会提前组织协商。")
    proposals.add_comment(cast.residents[0], proposal, stance="for", body="这两年报修确实快了，支持续聘，考核条款一定要写进合同。",
                          now=start + 3 * D)
    announced = _local(now - 20 * D, 10)
    opens = _local(now - 4 * D, 9)
    ballot = services.open_ballot(cast.hoa_chair, proposal, method="owners", matter=4, notice=PROPERTY_NOTICE,
                                  question="是否同意续聘花家地物业服务中心，合同期三年（2027—2029年）？",
                                  opens_at=opens, closes_at=_local(now + 10 * D, 18), now=announced)
    services.apply_due(ballot, opens)
    rng = random.Random(2027)
    casters = db.session.execute(db.select(BallotCaster.voter_id, BallotCaster.user_id)
                                 .where(BallotCaster.ballot_id == ballot.id).order_by(BallotCaster.id)).all()
    online = {}
    for voter_id, user_id in casters:
        online.setdefault(voter_id, user_id)
    keep_for_testers = db.session.scalar(db.select(User.id).where(User.phone == "13800000002"))
    voters = [(v, u) for v, u in online.items() if u != keep_for_testers]
    voting = voters[:max(1, int(len(voters) * 0.7))]
    users = {u.id: u for u in db.session.scalars(db.select(User).where(User.id.in_([u for _, u in voting])))}
    option_id = {o.code: o.id for o in ballot.options}

    def choice(yes_share):
        return "yes" if rng.random() < yes_share else ("no" if rng.random() < 0.7 else "abstain")

    # (when, who enters it, voter, option, on paper): online casts, the changed vote, paper ballots.
    events = [(at, users[u], v, option_id[choice(0.72)], False)
              for (v, u), at in zip(voting, _spread(opens + 20 * timedelta(minutes=1), now - H, len(voting)),
                                    strict=True)]
    changer_voter, changer_id = voting[0]
    changer = users[changer_id]
    events[0] = (opens + 2 * H, changer, changer_voter, option_id["no"], False)
    # He changed his mind after the owners' meeting on the second evening.
    events.append((_local(opens + D, 21, 40), changer, changer_voter, option_id["yes"], False))
    paper_voters = db.session.scalars(db.select(BallotVoter.id).where(
        BallotVoter.ballot_id == ballot.id, BallotVoter.id.not_in(list(online)))
        .order_by(BallotVoter.id)).all()
    paper_voters = paper_voters[: len(paper_voters) // 2]
    enterers = [cast.hoa_members[0], cast.hoa_chair]
    for k, (voter_id, at) in enumerate(zip(paper_voters, _spread(opens + D, now - 2 * H, len(paper_voters)),
                                           strict=True)):
        events.append((at, enterers[k % 2], voter_id, option_id[choice(0.75)], True))
    for at, person, voter_id, chosen, on_paper in sorted(events, key=lambda e: e[0]):
        if on_paper:
            services.enter_paper(person, ballot, voter_id, chosen, now=at)
        else:
            services.cast(person, ballot, chosen, voter=voter_id, now=at)
    _paper_and_proxies(cast, ballot, keep_for_testers, now)
    return ballot, changer


def _shed_decided(cast, community, now):
    """Matter (8): the bicycle shed becomes a parcel-locker room; decided (passed) two months ago."""
    start = now - 100 * D
    proposal = _proposal(community, cast.hoa_chair, cast.hoa_chair, start,
                         title="1号楼北侧自行车棚改建为快递柜房",
                         summary="自行车棚长期闲置，快递堆放在单元门口。业委会建议改建为带顶棚的快递柜房，收入计入公共收益。",
                         body="改变共有部分用途，须经业主共同决定（《民法典》第二百七十八条第一款第（八）项）。",
                         category="other", reason="改变共有部分用途须业主表决。")
    announced = _local(now - 80 * D, 10)
    opens = _local(now - 62 * D, 9)
    closes = _local(now - 48 * D, 18)
    ballot = services.open_ballot(cast.hoa_chair, proposal, method="owners", matter=8,
                                  notice="花家地社区全体业主：业委会就“1号楼北侧自行车棚改建为快递柜房”组织业主表决。"
                                         "须参与表决的专有部分面积和人数均达三分之二以上，且经参与表决者面积和人数四分之三以上同意。",
                                  question="是否同意将1号楼北侧自行车棚改建为快递柜房？",
                                  opens_at=opens, closes_at=closes, now=announced)
    services.apply_due(ballot, opens)
    voters = db.session.scalars(db.select(BallotVoter.id).where(BallotVoter.ballot_id == ballot.id)
                                .order_by(BallotVoter.id)).all()
    option_id = {o.code: o.id for o in ballot.options}
    rng = random.Random(8)
    enterers = [cast.hoa_members[0], cast.hoa_chair]
    # Most owners came to the two signing days at the counter: paper ballots entered by the committee.
    for k, (voter_id, at) in enumerate(zip(voters[: len(voters) * 9 // 10],
                                           _spread(opens + H, closes - 2 * D, len(voters) * 9 // 10), strict=True)):
        code = "yes" if rng.random() < 0.88 else ("no" if rng.random() < 0.6 else "abstain")
        services.enter_paper(enterers[k % 2], ballot, voter_id, option_id[code], now=at)
    services.apply_due(ballot, closes)
    services.record_outcome(cast.hoa_chair, ballot, "表决通过。业委会已与快递柜运营方签订场地使用协议，收入计入公共收益。",
                            now=closes + 2 * D)
    return ballot
def _signed_sheet_png(text: str) -> bytes:
    """A small picture standing in for a phone photo of a signed paper sheet."""
    import io

    from PIL import Image, ImageDraw
    image = Image.new("RGB", (480, 640), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, 450, 610), outline=(0, 0, 0), width=3)
    draw.text((60, 60), text, fill=(0, 0, 0))
    draw.rectangle((60, 200, 90, 230), outline=(0, 0, 0), width=3)
    draw.line((62, 215, 75, 228, 95, 195), fill=(20, 40, 160), width=4)  # the ticked box
    draw.line((250, 540, 420, 520), fill=(20, 40, 160), width=3)  # the signature
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _paper_and_proxies(cast, ballot, keep_for_testers, now):
    """On the open owners' ballot (issue #19): a paper ballot entered from its form with a scan of the signed
    sheet; an owner without an account who authorized a relative in writing, whose paper ballot the committee
    entered "by proxy"; an owner with an account whose proxy (a resident with an account) has not voted yet;
    and an authorization the owner revoked."""
    from datetime import date

    from portal.votes.models import BallotVote
    yes = next(o.id for o in ballot.options if o.code == "yes")
    voted = set(db.session.scalars(db.select(BallotVote.voter_id).where(BallotVote.ballot_id == ballot.id)))
    with_account = dict(db.session.execute(db.select(BallotCaster.voter_id, BallotCaster.user_id)
                                           .where(BallotCaster.ballot_id == ballot.id)).all())
    waiting = [v for v in db.session.scalars(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id)
                                             .order_by(BallotVoter.id)) if v.id not in voted]
    paper_only = [v for v in waiting if v.id not in with_account and v.kind == "owner"]
    online = [v for v in waiting if with_account.get(v.id) not in (None, keep_for_testers) and v.kind == "owner"]
    if len(paper_only) < 2 or len(online) < 2:
        return
    chair, member = cast.hoa_chair, cast.hoa_members[0]
    signed = date.fromordinal((now - 6 * D).toordinal())
    services.enter_paper(member, ballot, paper_only[0], yes, now=now - 3 * H,
                         scan=("表决票-签字.png", _signed_sheet_png(f"Ballot form no. {paper_only[0].id}")))
    relative = services.record_proxy(chair, ballot, paper_only[1], proxy_name=f"{paper_only[1].label}之子",
                                     signed_on=signed, now=now - 5 * H,
                                     scan=("委托书.png", _signed_sheet_png("Written authorization")))
    services.enter_paper(chair, ballot, paper_only[1], yes, by_proxy=True, now=now - 4 * H)
    holder = next((r for r in cast.residents if r.id not in set(with_account.values())), None)
    if holder is not None:
        services.record_proxy(chair, ballot, online[0], proxy_user=holder, signed_on=signed, now=now - 2 * H)
        revoked = services.record_proxy(member, ballot, online[1], proxy_user=holder, signed_on=signed,
                                        now=now - 2 * D)
        owner = db.session.get(User, with_account[online[1].id])
        services.revoke_proxy(owner, revoked, now=now - D)
    return relative


def _income_committee(cast, community, now):
    """The homeowners' committee decides to publish the public income: closed, passed, outcome stated."""
    income = db.session.scalar(db.select(Proposal).where(Proposal.community_id == community.id,
                                                         Proposal.title == INCOME_TITLE))
    if income is None or income.status != "deliberation":
        return None
    opens = max(_local(now - 20 * D, 19, 30), income.comments_closed_at or income.deliberation_at or now - 20 * D)
    ballot = services.open_ballot(cast.hoa_chair, income, method="committee", organization=cast.hoa,
                                  question="是否同意要求物业自下季度起每季度公开公共收益明细，并单独记账？",
                                  opens_at=opens, closes_at=opens + 3 * D, now=opens)
    members = [cast.hoa_chair, *cast.hoa_members]
    for person, code, at in zip(members, ["yes", "yes", "yes", "abstain", "yes"],
                                _spread(opens + H, opens + 2 * D, len(members)), strict=True):
        _vote(person, ballot, code, at)
    services.apply_due(ballot, opens + 3 * D)
    services.record_outcome(cast.hoa_chair, ballot, "业委会五名委员中四票同意、一票弃权，决议通过。业委会已书面通知物业："
                                                    "自下季度起每季度第一周在公告栏和本平台公布上季度公共收益明细，"
                                                    "公共收益单独记账，由业委会每半年核对一次。",
                            now=opens + 3 * D + 20 * H)
    return ballot


def _fitness_plurality(cast, community, now):
    start = now - 30 * D
    author = (_named(cast, "郑阿姨") or cast.residents[:1])[0]
    proposal = _proposal(community, author, cast.chair, start, title="室外健身器材安装在哪里",
                         summary="街道配套的一组室外健身器材需要确定安装位置，居委会看了三处，请居民投票选择。",
                         body=FITNESS_BODY, category="facilities",
                         reason="器材已到货，需在两周内确定位置，直接进入协商和投票。")
    choices = ["中心花园东侧草坪旁", "北门活动室门前空地", "7号楼南侧小广场"]
    opens = _local(now - 15 * D, 8)
    ballot = services.open_ballot(cast.chair, proposal, method="residents", resident_unit="person",
                                  organization=cast.rc, quorum_percent="30", options=choices, question="室外健身器材安装在哪一处？",
                                  opens_at=opens, closes_at=opens + 7 * D, now=opens)
    picks = [choices[0]] * 6 + [choices[1]] * 4 + [choices[2]] * 2
    voters = cast.residents[:len(picks)]
    for person, label, at in zip(voters, picks[:len(voters)], _spread(opens + H, opens + 6 * D, len(voters)),
                                 strict=True):
        _vote(person, ballot, label, at)
    services.apply_due(ballot, opens + 7 * D)
    if ballot.status == "closed":
        services.record_outcome(cast.chair, ballot, "东侧草坪旁得票最多，器材安装在中心花园东侧，草坪占用部分由物业补种。",
                                now=opens + 8 * D)
    return ballot


def _gate_no_quorum(cast, community, now):
    start = now - 25 * D
    author = (_named(cast, "宋大哥") or cast.residents[1:2] or cast.residents)[0]
    proposal = _proposal(community, author, cast.chair, start, title="南门夜间23点后关闭",
                         summary="南门夜间外来车辆穿行、电动车深夜进出，建议23:00至6:00关闭南门，加装刷卡小门。",
                         body=GATE_BODY, category="safety", reason="涉及全体居民出行，居委会组织协商后投票。")
    opens = _local(now - 12 * D, 8)
    ballot = services.open_ballot(cast.chair, proposal, method="residents", resident_unit="person",
                                  organization=cast.rc, quorum_percent="50", threshold="simple",
                                  question="是否同意南门每天23:00至次日6:00关闭？", opens_at=opens,
                                  closes_at=opens + 7 * D, now=opens)
    voters = cast.residents[2:7]
    for person, code, at in zip(voters, ["yes", "yes", "no", "yes", "abstain"],
                                _spread(opens + H, opens + 6 * D, len(voters)), strict=False):
        _vote(person, ballot, code, at)
    services.apply_due(ballot, opens + 7 * D)
    if ballot.status == "closed":
        services.record_outcome(cast.chair, ballot, "参与投票的居民不足一半，表决无效，议题退回协商。居委会将在各单元门口"
                                                    "张贴说明，听取南门住户和上班族的意见后再组织投票。",
                                now=opens + 7 * D + 22 * H)
    return ballot

CHARGING_BODY = """楼道里给电动自行车充电、私拉电线的情况屡禁不止，今年已发生两起电瓶冒烟。\
建议在3号楼北侧空地建设一处电动自行车集中充电棚（24个充电口，刷卡计费，配灭火器和监控），费用由街道专项经费承担。\
充电棚会占用北侧约6个临时停车位，涉及全体居民，按居民会议规则表决。"""


def _charging_meeting(cast, community, now):
    """A residents' vote under the residents' meeting rule: just over half of the adult residents took part,
    and more than half of them (abstentions in the base) voted yes: closed and passed."""
    start = now - 20 * D
    author = (_named(cast, "郑阿姨") or cast.residents[:1])[0]
    proposal = _proposal(community, author, cast.chair, start, title="3号楼北侧建设电动自行车集中充电棚",
                         summary="楼道充电隐患大，建议在3号楼北侧建集中充电棚，占用约6个临时车位。",
                         body=CHARGING_BODY, category="safety", reason="涉及全体居民，居委会组织协商后按居民会议规则表决。")
    opens = _local(now - 9 * D, 8)
    ballot = services.open_ballot(cast.chair, proposal, method="residents", resident_unit="person",
                                  resident_rule="meeting", organization=cast.rc,
                                  question="是否同意在3号楼北侧建设电动自行车集中充电棚？", opens_at=opens,
                                  closes_at=opens + 5 * D, now=opens)
    taking_part = ballot.electorate_count // 2 + 2  # just over half of the frozen electorate
    voters = cast.residents[:taking_part]
    yes = taking_part // 2 + 2
    codes = ["yes"] * yes + ["abstain"] + ["no"] * (taking_part - yes - 1)
    for person, code, at in zip(voters, codes, _spread(opens + H, opens + 4 * D, len(voters)), strict=False):
        _vote(person, ballot, code, at)
    services.apply_due(ballot, opens + 5 * D)
    if ballot.status == "closed" and ballot.result == "passed":
        services.record_outcome(cast.chair, ballot, "过半数居民参加表决，参加者过半数同意，决议通过。居委会将报街道申请专项"
                                                    "经费，施工前在3号楼北侧张贴临时车位调整方案。",
                                now=opens + 6 * D)
    return ballot


def _delegate_secret(cast, community, now):
    start = now - 12 * D
    author = cast.chair
    proposal = _proposal(community, author, cast.chair, start, title="增补一名议事会居民代表",
                         summary="原居民代表搬离小区，需增补一名居民代表。三位候选人，无记名投票，结束前不公布票数。",
                         body=DELEGATE_BODY, category="rules", reason="议事会章程规定缺额一个月内增补。")
    choices = ["林女士", "吴老师", "罗先生"]
    opens = _local(now - 2 * D, 8)
    ballot = services.open_ballot(cast.chair, proposal, method="residents", resident_unit="person",
                                  organization=cast.rc, quorum_percent="30", options=choices, secret=True,
                                  results_hidden=True, question="请选择一位议事会居民代表", opens_at=opens,
                                  closes_at=_local(now + 5 * D, 20), now=opens)
    voters = cast.residents[3:11]
    rng = random.Random(11)
    for person, at in zip(voters, _spread(opens + H, now - H, len(voters)), strict=True):
        _vote(person, ballot, rng.choice(choices), at)
    return ballot


# --- 南湖社区: two estates, a lift retrofit decided by the owners of one entrance ---------------------------

LIFT_SLUG = "nanhu"
LIFT_TITLE = "南湖东里5号楼2单元加装电梯"
LIFT_ESTATE, OTHER_ESTATE = "南湖东里", "南湖西里"
LIFT_BUILDING, LIFT_ENTRANCE = "5", "2"
PMC_CHAIR = ("13800000114", "曹主任")  # chair of 南湖西里's property management committee
LIFT_NOTICE = """南湖东里5号楼2单元全体业主：

根据《民法典》第二百七十八条第一款第（七）项及北京市既有多层住宅加装电梯的有关规定，加装电梯由本单元业主共同决定。\
业主委员会现就“5号楼2单元加装电梯”事项组织本单元业主表决，公告如下：

一、方案：在单元北侧加装一部平层入户电梯，预算约68万元，政府补贴后由本单元业主按楼层分摊。
二、表决范围：5号楼2单元的业主（12户）。
三、表决规则：参与表决的业主专有部分面积和人数均须达到三分之二以上，且经参与表决的业主专有部分面积四分之三以上、\
人数四分之三以上同意，方为通过。
四、表决方式：纸质表决票，由业委会入户发放、收回并录入本平台。

南湖东里业主委员会"""
# Paper votes by floor (the room's first digit): the ground floor, which gains nothing and loses light, is
# against; the floors above are for; the top floor's last form is not returned.
LIFT_PAPER = {"1": "no"}


def _lift_ballot(now) -> list[str]:
    """南湖社区: 南湖东里's homeowners' committee and 南湖西里's property management committee; a lift retrofit
    of building 5, entrance 2, decided on paper by that entrance's owners alone."""
    community = db.session.scalar(db.select(Community).where(Community.slug == LIFT_SLUG))
    if community is None:
        return []
    estates = {e.name: e for e in db.session.scalars(db.select(Estate).where(Estate.community_id == community.id))}
    if LIFT_ESTATE not in estates or OTHER_ESTATE not in estates:
        return []
    pmc = ensure_organization("property_management_committee", f"{OTHER_ESTATE}物业管理委员会", community=community)
    pmc.estate_id = estates[OTHER_ESTATE].id
    ensure_member(pmc, ensure_user(*PMC_CHAIR), "chair")
    hoa = db.session.scalar(db.select(Organization).where(Organization.community_id == community.id,
                                                          Organization.kind == "homeowners_committee"))
    chair = db.session.scalar(db.select(User).where(User.phone == COMMUNITY_PEOPLE[LIFT_SLUG]["hoa_chair"][0]))
    if hoa is None or chair is None:
        return []
    hoa.estate_id = estates[LIFT_ESTATE].id
    hoa.name = f"{LIFT_ESTATE}业主委员会"
    db.session.flush()
    line = (f"{community.name}: estates {LIFT_ESTATE} (homeowners' committee, chair {chair.phone}) and {OTHER_ESTATE} "
            f"(property management committee, chair {PMC_CHAIR[0]})")
    if db.session.scalar(db.select(Proposal.id).where(Proposal.community_id == community.id,
                                                      Proposal.title == LIFT_TITLE)) is not None:
        return [line + "; lift ballot already seeded"]
    building = db.session.scalar(db.select(Building).where(Building.community_id == community.id,
                                                           Building.code == LIFT_BUILDING))
    start = now - 60 * D
    proposal = _proposal(community, chair, chair, start, title=LIFT_TITLE,
                         summary="5号楼2单元多位高龄业主上下楼困难，业委会提议在单元北侧加装电梯，费用按楼层分摊。",
                         body=LIFT_NOTICE, category="other", reason="本单元业主联名申请，业委会组织协商。")
    announced = _local(now - 40 * D, 10)
    opens = _local(announced + 16 * D, 9)
    ballot = services.open_ballot(chair, proposal, method="owners", matter=7, notice=LIFT_NOTICE,
                                  question="是否同意在5号楼2单元加装电梯（预算约68万元，按楼层分摊）？",
                                  estate=estates[LIFT_ESTATE], scope_kind="entrances",
                                  scope_entrances=[(building.id, LIFT_ENTRANCE)],
                                  opens_at=opens, closes_at=opens + 14 * D, now=announced)
    services.apply_due(ballot, opens)
    voters = db.session.scalars(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id)
                                .order_by(BallotVoter.id)).all()
    rooms = db.session.execute(db.select(Household.id, Household.room, Ownership.owner_id)
                               .join(Ownership, Ownership.household_id == Household.id)
                               .where(Household.building_id == building.id, Household.entrance == LIFT_ENTRANCE,
                                      Ownership.held_on(opens.astimezone(ZONE).date()))).all()
    by_unit = {household_id: room for household_id, room, _owner in rooms}
    by_owner = {owner_id: room for _household, room, owner_id in rooms}
    option_id = {o.code: o.id for o in ballot.options}
    ordered = sorted(voters, key=lambda v: by_unit.get(v.household_id) or by_owner.get(v.owner_id) or "")
    returned = ordered[:-1]  # the top floor's last unit did not return its form
    for voter, at in zip(returned, _spread(opens + H, opens + 12 * D, len(returned)), strict=True):
        room = by_unit.get(voter.household_id) or by_owner.get(voter.owner_id) or ""
        services.enter_paper(chair, ballot, voter.id, option_id[LIFT_PAPER.get(room[:1], "yes")], now=at)
    services.apply_due(ballot, now)
    voted, electorate = services.participation(ballot)
    return [line + f"; lift ballot for {LIFT_BUILDING}号楼 entrance {LIFT_ENTRANCE}: {ballot.status}/{ballot.result}, "
            f"{voted} of {electorate} owners of the entrance voted on paper"]


def seed_votes() -> list[str]:
    """Ballots in every state for the demo community, and 南湖社区's lift ballot. Returns summary lines."""
    return _seed_huajiadi() + _lift_ballot(utcnow())


def _seed_huajiadi() -> list[str]:
    community = _community()
    if community is None:
        return []
    if db.session.scalar(db.select(Ballot.id).where(Ballot.community_id == community.id).limit(1)) is not None:
        return [f"{community.name}: ballots already seeded"]
    cast = _cast(community)
    if cast is None or len(cast.residents) < 12:
        return []
    now = utcnow()
    accounts = _owner_accounts(community, cast, now)
    named = _owner_roll(cast, community, now)
    ballots = [_shed_decided(cast, community, now), _income_committee(cast, community, now), _fitness_plurality(cast, community, now),
               _gate_no_quorum(cast, community, now), _delegate_secret(cast, community, now),
               _charging_meeting(cast, community, now)]
    property_ballot, changer = _property_open(cast, community, now)
    ballots += [property_ballot, _roof_announced(cast, community, now)]
    ballots = [b for b in ballots if b is not None]
    for ballot in ballots:
        services.apply_due(ballot, now)
    db.session.flush()
    states = ", ".join(f"{b.status}{'/' + b.result if b.result else ''}" for b in ballots)
    voted, electorate = services.participation(property_ballot)
    return [f"{community.name}: {len(ballots)} ballots ({states}); {len(accounts)} owners given accounts "
            f"(their register phones); the open owners' ballot has {voted} of {electorate} owners voted — "
            f"{changer.phone} changed his vote, 13800000002 has not voted yet; homeowners' committee members "
            f"{', '.join(login for login, _ in HOA_MEMBERS)}; a demolished unit excluded from owners' ballots"
            + (f"; {named[0]}: the co-owners' representative {named[1]}" if named else "")]
