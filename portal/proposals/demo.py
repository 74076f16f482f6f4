"""Demo proposals for 花家地社区 in every state this area knows: drafts (one written at the counter for an
elderly resident), collecting supports (one a support short of the threshold, one edited after
publishing, one turned from a neighbourhood issue), in consultation (reached by supports, with a few dozen
comments, replies, likes, a visible edit, a deleted comment, one comment hidden by three flags and one
hidden by a moderator, and the pinned summary; another moved there by the committee), a closed
consultation, withdrawn for each reason, and archived when the support window ran out. Voting and what
follows belong to later areas and are not faked.

Idempotent: a community that already has proposals is left alone. Runs after the issues demo and skips
what is missing (the community, its committee, its verified residents)."""
import random
from datetime import timedelta
from types import SimpleNamespace

from portal.audit.services import record
from portal.auth.models import User
from portal.clock import utcnow
from portal.demo_people import COMMUNITY_PEOPLE, ensure_user
from portal.extensions import db
from portal.issues.models import Issue
from portal.moderation.models import HIDE_AFTER_FLAGS, Flag
from portal.places.models import Building, Community, Household, Residency
from portal.proposals import services
from portal.proposals.models import Proposal
from portal.residents import services as residents

SLUG = "huajiadi"
H = timedelta(hours=1)
D = timedelta(days=1)

# Neighbours who take part in the consultations (verified by the chair), on top of the residents demo's.
NEIGHBOURS = [
    ("13800001001", "陈大爷"), ("13800001002", "林女士"), ("13800001003", "黄师傅"),
    ("13800001004", "吴老师"), ("13800001005", "郑阿姨"), ("13800001006", "冯先生"),
    ("13800001007", "何奶奶"), ("13800001008", "罗先生"), ("13800001009", "梁女士"),
    ("13800001010", "宋大哥"), ("13800001011", "唐女士"), ("13800001012", "韩老师"),
    ("13800001013", "曹先生"), ("13800001014", "彭阿姨"),
]
RESIDENT_LOGIN = "13800000001"  # 张阿姨, the residents demo's verified resident: she proposes the lift
ELDERLY_LOGIN = "13800000009"  # 刘奶奶, registered at the counter: the chair writes for her
ESCALATED_ISSUE = "外墙瓷砖脱落"

LIFT_BODY = """## 现状

3号楼建于2003年，共六层、三个单元，没有电梯。楼里60岁以上的老人超过一半，有几位坐轮椅或拄拐杖，\
已经很久没有下过楼。

## 建议

1. 每个单元在北侧加装一部电梯，**平层入户**；
2. 申请北京市老楼加装电梯补贴（每部约24万元）；
3. 剩余费用按楼层递增分摊，一层不出资，并对一层住户的采光影响给予补偿；
4. 建成后由物业统一维保，维保费按户每月分摊。

## 费用估算

| 项目 | 金额（万元） |
| --- | --- |
| 设备及安装（三部） | 180 |
| 管线迁移、井道基础 | 24 |
| 政府补贴 | -72 |
| **业主分摊合计** | **132** |

参考：望京西园三区已于去年完成加装，可组织大家去参观。"""

ROOF_BODY = """5A号楼屋面防水层已超过15年，今年夏天顶层有6户出现渗漏，墙面发霉。

建议动用专项维修资金对屋面防水整体翻新：

- 铲除旧防水层，铺设SBS改性沥青卷材两道；
- 同时更换破损的排水口和雨水管；
- 施工前公示三家报价，由业委会和住户代表一起比选。

按《住宅专项维修资金管理办法》，需经本楼业主“双三分之二”同意。"""

INCOME_BODY = """小区的公共收益（电梯广告、地面停车费、快递柜场地费等）目前没有定期公开。

建议：

1. 物业每季度在公告栏和本平台公布公共收益明细；
2. 公共收益单独记账，由业委会监督；
3. 每年的使用方案（如补充维修资金、改善绿化）经业主大会决定。"""

# The lift consultation: (key, reply to key, author, stance, text, hours after it opened, likes).
# Authors are keys of the cast (see _cast); "resident" is the proposer.
LIFT_COMMENTS = [
    ("c1", None, "陈大爷", "for", "我家住6楼，老伴腿脚不好，每次下楼都要在楼道里歇好几回。加装电梯是我们最盼望的事，坚决支持！", 2, 9),
    ("c1a", "c1", "黄师傅", "neutral", "理解您的难处，不过一楼住户的采光和噪音问题也得在方案里说清楚。", 3, 2),
    ("c1b", "c1", "林女士", "for", "一楼的补偿可以写进协议里，别的小区都是这么做的。", 4, 3),
    ("c2", None, "黄师傅", "against", "我家住一楼，电梯井道正好在我家北窗外面，厨房采光会受很大影响。我们用不上电梯，还要承受施工的影响，希望大家也考虑一下一楼的感受。", 5, 6),
    ("c2a", "c2", "吴老师", "for", "按北京的政策，一层一般不用出资，还可以协商补偿，您可以先看看具体方案再决定。", 6, 4),
    ("c2b", "c2", "chair", "neutral", "居委会可以请设计单位出两个井道位置的方案，尽量减少对一楼采光的影响，出来后在单元门口公示。", 20, 8),
    ("c3", None, "郑阿姨", "neutral", "费用怎么分摊？希望能公布一个按楼层的分摊表，大家心里有数再表态。", 8, 7),
    ("c3a", "c3", "resident", "for", "初步测算每个单元约44万元，政府补贴24万元，剩下的按楼层递增分摊，六楼最多。详细表格下周贴在单元门口。", 10, 5),
    ("c4", None, "冯先生", "for", "电梯是长期资产，房子也能增值。我们年轻人虽然暂时用不上，但父母来住的时候就方便多了。", 14, 3),
    ("c5", None, "梁女士", "neutral", "施工期间至少要三个月，楼下堆材料、噪音大。家里孩子明年高考，能不能避开五六月？", 22, 4),
    ("c5a", "c5", "member", "neutral", "施工时间可以在合同里约定，考试期间停工，居委会会盯着。", 26, 2),
    ("c6", None, "宋大哥", "against", "后期维保费用谁出？一年好几千，没人管的话电梯很快就成了摆设。", 28, 5),
    ("c6a", "c6", "member", "neutral", "可以请物业统一维保，费用按户每月分摊，估计每户每月二三十元，具体以报价为准。", 30, 3),
    ("c7", None, "何奶奶", "for", "我们这栋楼一半以上是老人，这是刚需，不是享受。", 33, 6),
    ("c8", None, "唐女士", "neutral", "建议先做一次入户调查，看看每户的真实意愿，再决定要不要进入表决。", 40, 2),
    ("c9", None, "罗先生", "for", "支持！我可以帮忙联系设计院的朋友出方案。", 44, 1),
    ("c10", None, "曹先生", "against", "一楼那几户就是想多要钱，自私自利，别管他们！", 46, 0),
    ("c11", None, "彭阿姨", "for", "2单元的那位老住户一直反对，大家直接去他家门口找他说说，电话我这里有。", 47, 0),
    ("c12", None, "韩老师", "against", "我们单元只有12户，分摊下来每户太贵了，能不能等补贴政策再提高一些？", 50, 2),
    ("c12a", "c12", "冯先生", "neutral", "补贴标准这几年一直没变，等下去可能要好多年。", 52, 1),
    ("c13", None, "林女士", "for", "上周去看了望京西园的加装电梯，效果很好，一楼也拿到了补偿，可以借鉴他们的做法。", 60, 8),
    ("c13a", "c13", "郑阿姨", "neutral", "能不能请他们小区的负责人来给大家讲讲经验？", 61, 2),
    ("c13b", "c13a", "chair", "neutral", "可以，居委会这周联系，安排在周六上午活动室。", 64, 4),
    ("c14", None, "吴老师", "neutral", "电梯停靠是平层入户还是半层入户？半层的话老人还是要走几步台阶。", 70, 3),
    ("c14a", "c14", "resident", "for", "目前倾向于平层入户，造价高一些，但对老人更方便。", 72, 3),
    ("c15", None, "宋大哥", "neutral", "北侧地下有燃气管线，井道位置要先勘察清楚，安全第一。", 80, 5),
    ("c16", None, "何奶奶", "for", "楼里坐轮椅的王大爷已经两年没下过楼了，希望尽快推进，别再拖了。", 90, 7),
    ("c17", None, "梁女士", "against", "电梯运行的声音会影响二楼、三楼的休息，特别是晚上。", 100, 1),
    ("c17a", "c17", "罗先生", "for", "现在的新电梯噪音很小，可以在合同里写明噪音标准和夜间停运时间。", 102, 2),
    ("c18", None, "唐女士", "for", "看了大家的讨论，我从中立改为支持，前提是一楼的补偿写进协议。", 120, 3),
    ("c19", None, "冯先生", "for", "这条我先删掉，等方案出来再说。", 125, 0),
    ("c19a", "c19", "韩老师", "neutral", "同意，等设计方案出来大家再细看。", 126, 0),
]
LIFT_EDIT = ("c9", "支持！我可以帮忙联系设计院出方案，费用按正规报价走，不搞人情。", 47)  # hours: a visible edit
LIFT_DELETED = "c19"
LIFT_PENDING = "c10"  # three flags: hidden pending review
LIFT_HIDDEN = ("c11", "含有针对其他住户的个人信息，按社区议事规则隐藏。")
LIFT_SUMMARY = (
    "楼内60岁以上老人超过一半，上下楼困难是刚需；政府补贴约24万元/部，剩余费用按楼层递增分摊、一层不出资；"
    "可参考望京西园的做法，对一层给予补偿，并由物业统一维保。",
    "一层、二层住户担心采光和噪音，且用不上电梯；后期维保费用需要事先说清由谁承担；施工期间的堆料和噪音影响"
    "生活，应避开考试季；北侧地下管线需先勘察。",
)

ROOF_COMMENTS = [
    ("r1", None, "曹先生", "for", "我家就在顶层，今年夏天卧室墙面全是霉点，孩子一直咳嗽，希望尽快修。", 3, 5),
    ("r2", None, "韩老师", "neutral", "维修资金账户里5A号楼还有多少钱？能不能先公布一下余额？", 6, 4),
    ("r2a", "r2", "hoa_chair", "neutral", "截至上月，5A号楼维修资金余额约86万元，这次预算约38万元，足够。", 9, 6),
    ("r3", None, "彭阿姨", "against", "我住二楼，屋面漏水跟我家没关系，为什么要动全楼的钱？应该由顶层住户自己出。", 12, 1),
    ("r3a", "r3", "吴老师", "for", "屋面是全楼共有部分，按规定就是用全楼的维修资金，今天漏的是顶层，明天就是楼道。", 14, 5),
    ("r4", None, "林女士", "for", "支持，但一定要三家比价，施工过程请业主代表监督。", 20, 4),
    ("r5", None, "黄师傅", "neutral", "雨季前能完工吗？最好五月前开工。", 30, 2),
]

INCOME_COMMENTS = [
    ("i1", None, "吴老师", "for", "公共收益是全体业主的钱，早就应该公开了。", 5, 6),
    ("i2", None, "郑阿姨", "for", "希望能细到每一项：电梯广告多少钱、停车费多少钱。", 9, 4),
    ("i3", None, "梁女士", "neutral", "每季度公开一次就够了，太频繁物业也做不过来。", 15, 2),
    ("i3a", "i3", "冯先生", "for", "公开一次表格不费事，季度正好。", 18, 1),
    ("i4", None, "宋大哥", "against", "公开可以，但别把收益都拿去补维修资金，应该先改善绿化和健身器材。", 24, 3),
    ("i4a", "i4", "hoa_chair", "neutral", "具体怎么用要由业主大会决定，这个提案先解决公开的问题。", 30, 5),
]

DANCE_COMMENTS = [
    ("d1", None, "韩老师", "for", "晚上八点以后音乐还很响，孩子写作业受影响。", 4, 3),
    ("d2", None, "何奶奶", "against", "跳舞是我们老人唯一的锻炼，别一刀切。", 6, 4),
]


def _community():
    return db.session.scalar(db.select(Community).where(Community.slug == SLUG))


def _cast(community):
    """Who takes part: the committee, the proposer, the neighbours (made and verified if missing), and every
    other verified resident, by the short names the stories use."""
    logins = {role: login for role, (login, _name) in COMMUNITY_PEOPLE[SLUG].items()}
    people = {role: db.session.scalar(db.select(User).where(User.phone == login)) for role, login in logins.items()}
    people["resident"] = db.session.scalar(db.select(User).where(User.phone == RESIDENT_LOGIN))
    people["elderly"] = db.session.scalar(db.select(User).where(User.phone == ELDERLY_LOGIN))
    if people["chair"] is None or people["resident"] is None:
        return None
    households = db.session.scalars(db.select(Household).join(Building).where(Building.community_id == community.id)
                                    .order_by(Building.code, Household.entrance, Household.room)).all()
    for n, (login, name) in enumerate(NEIGHBOURS):
        person = ensure_user(login, name)
        if db.session.scalar(db.select(Residency.id).where(Residency.user_id == person.id,
                                                           Residency.community_id == community.id)) is None:
            residency = residents.claim_unit(person, households[(7 * n + 3) % len(households)], community=community)
            residents.verify_claim(people["chair"], residency)
        people[name.split()[0]] = person
    everyone = db.session.scalars(db.select(User).join(Residency, Residency.user_id == User.id).where(
        Residency.community_id == community.id, Residency.status == "verified").order_by(Residency.id)).all()
    roles = {role: people[role] for role in ("chair", "member", "hoa_chair", "resident", "elderly")}
    return SimpleNamespace(**roles, named=people, everyone=everyone)


def _buildings(community, *codes):
    return [b.id for b in db.session.scalars(db.select(Building).where(
        Building.community_id == community.id, Building.code.in_(codes)))]


def _propose(community, author, at, *, publish=True, on_behalf_of=None, **fields):
    return services.create_proposal(author, community, publish=publish, on_behalf_of=on_behalf_of, now=at,
                                    **fields)


def _supporters(cast, proposal, n, start, step=7 * H):
    people = [p for p in cast.everyone if p.id != proposal.author_id][:n]
    for k, person in enumerate(people):
        services.support(person, proposal, now=start + (k + 1) * step)


def _consult(cast, proposal, comments, start):
    """Post the comments (replies to replies join their thread) and their likes; returns them by key."""
    posted = {}
    for key, parent, who, stance, text, hours, likes in comments:
        author = cast.named[who]
        posted[key] = services.add_comment(author, proposal, stance=stance, body=text, parent=posted.get(parent),
                                           now=start + hours * H)
        # A fixed draw per comment, so the demo resident has liked some comments and not others.
        fans = random.Random(key).sample([p for p in cast.everyone if p.id != author.id], likes)
        for fan in fans:
            services.like_comment(fan, posted[key])
    return posted


def _flag(community, comment, reason, people, at, *, resolved_by=None):
    for k, person in enumerate(people):
        db.session.add(Flag(community_id=community.id, item_type="comment", item_id=comment.id, user_id=person.id,
                            reason=reason, created_at=at + k * H,
                            resolved_at=at + 3 * H if resolved_by else None,
                            resolved_by_id=getattr(resolved_by, "id", None),
                            resolution="hidden" if resolved_by else None))


def _hide(proposal, comment, state, reason=None):
    """As the moderation area does: hidden comments leave the count of visible ones."""
    comment.hidden_state = state
    comment.hidden_reason = reason
    db.session.execute(db.update(Proposal).where(Proposal.id == proposal.id)
                       .values(comment_count=Proposal.comment_count - 1))
    db.session.refresh(proposal, ["comment_count"])


def _lift(cast, community, now):
    """The showcase: supports reach the threshold, a lively consultation, moderation, the summary."""
    start = now - 24 * D
    proposal = _propose(community, cast.resident, start, title="3号楼加装电梯",
                        summary="3号楼六层无电梯，老人上下楼非常困难。建议三个单元各加装一部电梯，申请政府补贴，剩余费用按楼层分摊。",
                        body=LIFT_BODY, category="lift", building_ids=_buildings(community, "3"),
                        estimated_cost="2040000")
    _supporters(cast, proposal, proposal.support_threshold, start, step=11 * H)
    opened = proposal.deliberation_at
    posted = _consult(cast, proposal, LIFT_COMMENTS, opened)
    key, text, hours = LIFT_EDIT
    comment = posted[key]
    services.edit_comment(comment.author, comment, stance=comment.stance, body=text, now=opened + hours * H)
    services.delete_comment(posted[LIFT_DELETED].author, posted[LIFT_DELETED], now=opened + 128 * H)
    pending = posted[LIFT_PENDING]
    flaggers = [p for p in cast.everyone if p.id != pending.author_id][-HIDE_AFTER_FLAGS:]
    _flag(community, pending, "offensive", flaggers, opened + 50 * H)
    _hide(proposal, pending, "pending")
    record(None, "moderation.auto_hide", pending, item_type="comment", flags=HIDE_AFTER_FLAGS)
    key, reason = LIFT_HIDDEN
    hidden = posted[key]
    _flag(community, hidden, "personal_info", [cast.named["黄师傅"]], opened + 48 * H, resolved_by=cast.chair)
    _hide(proposal, hidden, "hidden", reason)
    record(cast.chair, "moderation.hide", hidden, item_type="comment", reason=reason, flags=1)
    arguments_for, arguments_against = LIFT_SUMMARY
    services.write_summary(cast.chair, proposal, arguments_for=arguments_for, arguments_against=arguments_against,
                           now=opened + 130 * H)
    return proposal


def _roof(cast, community, now):
    """Moved to consultation by the homeowners' committee before the threshold, with a reason."""
    start = now - 9 * D
    proposal = _propose(community, cast.named["曹先生"], start, title="动用维修资金翻新5A号楼屋面防水",
                        summary="5A号楼屋面防水层老化，顶层6户渗漏。建议使用专项维修资金整体翻新屋面防水，三家比价、业主监督。",
                        body=ROOF_BODY, category="maintenance_fund", building_ids=_buildings(community, "5A"),
                        estimated_cost="380000")
    _supporters(cast, proposal, 4, start)
    moved = start + 3 * D
    services.move_to_deliberation(cast.hoa_chair, proposal, "顶层渗漏已影响住户健康，雨季前必须作出决定，"
                                  "业委会决定提前开始协商。", now=moved)
    _consult(cast, proposal, ROOF_COMMENTS, moved)
    return proposal


def _income(cast, community, now):
    """A consultation that reached its end: summary written, closed by the chair, waiting for the vote."""
    start = now - 40 * D
    proposal = _propose(community, cast.named["吴老师"], start, title="定期公开小区公共收益",
                        summary="电梯广告、停车费等公共收益每季度公开明细，单独记账，由业委会监督，使用方案经业主大会决定。",
                        body=INCOME_BODY, category="maintenance_fund")
    _supporters(cast, proposal, proposal.support_threshold, start, step=9 * H)
    opened = proposal.deliberation_at
    _consult(cast, proposal, INCOME_COMMENTS, opened)
    services.write_summary(cast.chair, proposal,
                           arguments_for="公共收益属于全体业主，应当公开；每季度公开明细、单独记账，便于监督。",
                           arguments_against="有住户希望收益优先用于绿化和健身器材，而不是补充维修资金；"
                                             "使用方案需另行由业主大会决定。",
                           now=opened + 10 * D)
    services.close_deliberation(cast.chair, proposal, "意见已充分收集，将提交业主大会表决。", now=opened + 12 * D)
    return proposal


def _collecting(cast, community, now):
    sorting = _propose(community, cast.named["郑阿姨"], now - 12 * D, title="北门垃圾分类亭改造",
                       summary="北门垃圾分类亭没有顶棚和洗手池，夏天味道大。建议加装顶棚、洗手池和定时开放的照明。",
                       body="北门垃圾分类亭使用频率最高，但没有顶棚，下雨天无法投放，也没有洗手的地方。\n\n"
                            "建议：\n\n- 加装顶棚和挡雨帘\n- 增设洗手池\n- 投放时段加装照明",
                       category="environment", estimated_cost="45000")
    _supporters(cast, sorting, sorting.support_threshold - 1, now - 12 * D, step=20 * H)  # one short
    parking = _propose(community, cast.named["冯先生"], now - 3 * D, title="重新规划地面停车位",
                       summary="小区地面车位划线混乱，晚上消防通道常被占用。建议重新划线，增加20个车位，消防通道加装隔离桩。",
                       body="现在地面车位是十几年前划的，很多线已经看不清。\n\n1. 重新测量划线\n2. 消防通道加装隔离桩\n"
                            "3. 新增车位优先给没有车位的业主",
                       category="parking", estimated_cost="60000")
    _supporters(cast, parking, 3, now - 3 * D)
    services.update_proposal(cast.named["冯先生"], parking, title="重新规划地面停车位（含充电车位）",
                             summary="地面车位划线混乱，消防通道常被占用。建议重新划线，增加20个车位（其中4个充电车位），"
                                     "消防通道加装隔离桩。",
                             body=parking.body + "\n4. 新增车位中设4个新能源充电车位", category="parking",
                             building_ids=[], estimated_cost="85000",
                             note="根据邻居建议加入充电车位，费用相应增加。", now=now - 2 * D)
    return [sorting, parking]


def _drafts(cast, community, now):
    drafts = [_propose(community, cast.resident, now - 2 * D, publish=False, title="楼道堆物清理公约",
                       summary="楼道里堆放的纸箱、旧家具和电动车既占道又有火灾隐患。建议制定楼道堆物公约，每月集中清理一次。",
                       body="（草稿）先和几位楼长商量后再发布。", category="rules")]
    if cast.elderly is not None:
        drafts.append(_propose(community, cast.chair, now - 1 * D, publish=False, on_behalf_of=cast.elderly,
                               title="小区花园增设休息座椅",
                               summary="中心花园只有两张长椅，老人散步走累了没地方坐。建议沿步道增设六张带靠背的座椅。",
                               body="刘奶奶在居委会窗口口述，王主任代为填写。", category="facilities",
                               estimated_cost="9000"))
    return drafts


def _withdrawn(cast, community, now):
    subsidy = _propose(community, cast.named["林女士"], now - 20 * D, title="申请加装电梯补贴",
                       summary="为3号楼申请老楼加装电梯补贴。", body="", category="lift")
    _supporters(cast, subsidy, 2, now - 20 * D)
    services.withdraw(cast.named["林女士"], subsidy, "duplicate", "和“3号楼加装电梯”重复，请大家去支持那一条。",
                      now=now - 19 * D)
    rails = _propose(community, cast.named["何奶奶"], now - 15 * D, title="单元门口增设扶手",
                     summary="单元门口三级台阶没有扶手，雨雪天老人容易滑倒。", body="", category="facilities",
                     estimated_cost="3000")
    _supporters(cast, rails, 5, now - 15 * D)
    services.withdraw(cast.named["何奶奶"], rails, "already_done", "物业上周已经在各单元门口装好了扶手，谢谢大家。",
                      now=now - 8 * D)
    market = _propose(community, cast.named["梁女士"], now - 14 * D, title="周末跳蚤市场场地",
                      summary="每月第一个周六在中心广场办跳蚤市场，闲置物品交换。", body="", category="activities")
    services.withdraw(cast.named["梁女士"], market, "no_longer_needed", "", now=now - 10 * D)
    dance = _propose(community, cast.named["韩老师"], now - 18 * D, title="夜间广场舞音量限制",
                     summary="中心广场晚上八点以后的广场舞音乐太响，建议限制音量和结束时间。", body="",
                     category="rules")
    services.move_to_deliberation(cast.member, dance, "噪音投诉较多，先听听双方意见。", now=now - 16 * D)
    _consult(cast, dance, DANCE_COMMENTS, now - 16 * D)
    services.withdraw(cast.named["韩老师"], dance, "other", "已经和舞蹈队当面协商，改为晚上七点半结束并使用蓝牙耳机，问题解决了。",
                      now=now - 6 * D)
    return [subsidy, rails, market, dance]


def _archived(cast, community, now):
    lockers = _propose(community, cast.named["黄师傅"], now - 45 * D, title="南门增设智能快递柜",
                       summary="南门附近没有快递柜，快递经常堆在门卫室。建议在南门增设一组智能快递柜。",
                       body="", category="facilities")
    _supporters(cast, lockers, 4, now - 45 * D, step=2 * D)
    lights = _propose(community, cast.named["宋大哥"], now - 60 * D, title="楼顶加装太阳能路灯",
                      summary="在各楼顶加装太阳能景观灯，节约公共电费。", body="", category="environment",
                      estimated_cost="120000")
    _supporters(cast, lights, 1, now - 60 * D)
    return [lockers, lights]


def _escalated(cast, community, now):
    issue = db.session.scalar(db.select(Issue).where(Issue.community_id == community.id,
                                                     Issue.title == ESCALATED_ISSUE))
    if issue is None:
        return []
    proposal = services.escalate_issue(cast.chair, issue, now=now - 5 * D)
    services.publish_proposal(cast.chair, proposal, now=now - 5 * D + 2 * H)
    _supporters(cast, proposal, 2, now - 5 * D + 2 * H)
    return [proposal]


def seed_proposals() -> list[str]:
    """Proposals in every state for the demo community. Returns summary lines."""
    community = _community()
    if community is None:
        return []
    if db.session.scalar(db.select(Proposal.id).where(Proposal.community_id == community.id).limit(1)) is not None:
        return [f"{community.name}: proposals already seeded"]
    cast = _cast(community)
    if cast is None or len(cast.everyone) < community.proposal_support_threshold + 2:
        return []
    now = utcnow()
    proposals = (_drafts(cast, community, now) + _collecting(cast, community, now)
                 + [_lift(cast, community, now), _roof(cast, community, now), _income(cast, community, now)]
                 + _withdrawn(cast, community, now) + _archived(cast, community, now)
                 + _escalated(cast, community, now))
    for proposal in proposals:
        services.apply_due(proposal, now)
    db.session.flush()
    states = sorted({p.status for p in proposals})
    return [f"{community.name}: {len(proposals)} proposals ({', '.join(states)}); neighbours "
            f"{NEIGHBOURS[0][0]}–{NEIGHBOURS[-1][0]} take part in the consultations"]
