"""Demo meetings for 花家地社区, one in every state (issue #7):

- a meeting of the homeowners' committee two days ago, held: attendance recorded (four present, one
  excused: quorum), minutes published (version 1) and a correction published (version 2), and decisions of
  each follow-up — open a ballot (on a proposal in consultation), an agreed action (made from the decision by the
  actions demo), a referral to the sub-district office, and one without follow-up;
- a public meeting of the homeowners' committee in five days, its agenda pointing at a proposal and an
  open issue of the community;
- an internal (not public) meeting of the residents' committee in ten days;
- a cancelled meeting of the residents' committee.

Runs after the votes demo (which gives the homeowners' committee its five members) and skips what is missing.
Idempotent: a community that already has meetings is left alone."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from portal.auth.models import User
from portal.clock import utcnow
from portal.committees import meetings
from portal.committees.models import Meeting, Organization
from portal.demo_people import COMMUNITY_PEOPLE
from portal.extensions import db
from portal.issues.models import OPEN_STATES, Issue
from portal.places.models import Community
from portal.proposals.models import Proposal

SLUG = "huajiadi"
D = timedelta(days=1)
ZONE = ZoneInfo("Asia/Shanghai")


def _local(day: datetime, hour: int, minute: int = 0) -> datetime:
    """`day`'s date in Beijing at hour:minute, as a UTC moment."""
    local = day.astimezone(ZONE).date()
    return datetime.combine(local, time(hour, minute), tzinfo=ZONE).astimezone(day.tzinfo)


def _org(community, kind):
    return db.session.scalar(db.select(Organization).where(Organization.community_id == community.id,
                                                           Organization.kind == kind))


def _person(role):
    return db.session.scalar(db.select(User).where(User.phone == COMMUNITY_PEOPLE[SLUG][role][0]))


def _held(community, hoa, chair, now):
    members = [m.user for m in hoa.current_memberships()]
    others = [u for u in members if u.id != chair.id]
    if len(others) < 2:
        return None
    secretary, approver = others[0], others[1]
    starts = _local(now - 2 * D, 19, 30)
    in_deliberation = db.session.scalar(db.select(Proposal).where(
        Proposal.community_id == community.id, Proposal.status == "deliberation").order_by(Proposal.id).limit(1))
    issue = db.session.scalar(db.select(Issue).where(Issue.community_id == community.id,
                                                     Issue.status.in_(OPEN_STATES)).order_by(Issue.id).limit(1))
    agenda = []
    if in_deliberation is not None:
        agenda.append(("", in_deliberation, None))
    if issue is not None:
        agenda.append(("", None, issue))
    agenda += [("地下车库照明维修", None, None), ("其他事项", None, None)]
    meeting = meetings.schedule_meeting(chair, hoa, title="业委会第十二次例会",
                                        starts_at=starts, ends_at=starts + timedelta(hours=2),
                                        place="社区服务站二层会议室", agenda=agenda,
                                        now=starts - 7 * D)
    statuses = {u.id: "present" for u in members}
    statuses[others[-1].id] = "excused"
    meetings.record_attendance(secretary, meeting, statuses, now=starts + timedelta(minutes=10))
    items = {None: "主任主持会议，到会委员过半数，会议有效。\n\n**列席**：物业周经理。"}
    by_title = {i.title: i for i in meeting.agenda}
    for item in meeting.agenda:
        if item.proposal_id:
            items[item.id] = "委员们认为方案成熟，同意提交表决。\n\n- 表决方式：委员会表决\n- 时间：下周"
        elif item.issue_id:
            items[item.id] = "物业已派人查看，预计本周内维修完毕。"
    garage = by_title["地下车库照明维修"]
    items[garage.id] = "地下车库B区照明损坏约**12盏**，物业两周内更换为LED灯。"
    meetings.save_minutes(secretary, meeting, items, now=starts + 1 * D)
    meetings.publish_minutes(approver, meeting, now=starts + 1 * D + timedelta(hours=3))
    items[garage.id] = "地下车库B区照明损坏约**16盏**（复核后更正），物业两周内更换为LED灯。"
    meetings.save_minutes(secretary, meeting, items, "更正损坏灯具数量：12盏应为16盏",
                          now=starts + 1 * D + timedelta(hours=20))
    meetings.publish_minutes(chair, meeting, now=starts + 1 * D + timedelta(hours=21))
    proposal_item = next((i for i in meeting.agenda if i.proposal_id), None)
    if proposal_item is not None:
        meetings.record_decision(chair, meeting, text="同意将该议题提交业委会表决。", follow_up="open_ballot",
                                 agenda_item=proposal_item, now=starts + timedelta(hours=1))
    meetings.record_decision(chair, meeting, text="由物业公司在两周内更换地下车库B区全部损坏灯具，业委会验收。",
                             follow_up="create_action", agenda_item=garage, now=starts + timedelta(hours=1))
    meetings.record_decision(chair, meeting, text="小区东侧道路占道停车问题涉及市政道路，提请街道协调交管部门处理。",
                             follow_up="refer_subdistrict", agenda_item=by_title["其他事项"],
                             now=starts + timedelta(hours=1, minutes=30))
    meetings.record_decision(chair, meeting, text="下次例会定于下月第一个周四晚七点半。", follow_up="none",
                             now=starts + timedelta(hours=1, minutes=45))
    return meeting


def seed_meetings() -> list[str]:
    """Meetings in every state for the demo community. Returns summary lines."""
    community = db.session.scalar(db.select(Community).where(Community.slug == SLUG))
    if community is None:
        return []
    if db.session.scalar(db.select(Meeting.id).where(Meeting.community_id == community.id).limit(1)) is not None:
        return [f"{community.name}: meetings already seeded"]
    hoa, rc = _org(community, "homeowners_committee"), _org(community, "residents_committee")
    hoa_chair, chair = _person("hoa_chair"), _person("chair")
    if None in (hoa, rc, hoa_chair, chair):
        return []
    now = utcnow()
    made = []
    held = _held(community, hoa, hoa_chair, now)
    if held is not None:
        made.append(held)

    upcoming_agenda = []
    collecting = db.session.scalars(db.select(Proposal).where(
        Proposal.community_id == community.id, Proposal.status.in_(("collecting", "deliberation")))
        .order_by(Proposal.id.desc()).limit(2)).all()
    upcoming_agenda += [("", p, None) for p in collecting]
    issue = db.session.scalar(db.select(Issue).where(Issue.community_id == community.id,
                                                     Issue.status.in_(OPEN_STATES)).order_by(Issue.id.desc()).limit(1))
    if issue is not None:
        upcoming_agenda.append(("", None, issue))
    upcoming_agenda.append(("业委会季度收支公示", None, None))
    starts = _local(now + 5 * D, 19, 30)
    made.append(meetings.schedule_meeting(hoa_chair, hoa, title="业委会第十三次例会",
                                          starts_at=starts, ends_at=starts + timedelta(hours=2),
                                          place="社区服务站二层会议室",
                                          online_url="https://meeting.example.org/huajiadi-hoa",
                                          agenda=upcoming_agenda, now=now))
    starts = _local(now + 10 * D, 9, 0)
    made.append(meetings.schedule_meeting(chair, rc, title="居委会内部工作会",
                                          starts_at=starts, place="居委会办公室", is_public=False,
                                          agenda=[("网格员排班", None, None)], now=now))
    starts = _local(now + 3 * D, 15, 0)
    cancelled = meetings.schedule_meeting(chair, rc, title="垃圾分类宣传会",
                                          starts_at=starts, place="小区中心广场",
                                          now=now - 4 * D)
    meetings.cancel_meeting(chair, cancelled, "天气预报有大雨，改期另行通知。",
                            now=now - 1 * D)
    made.append(cancelled)
    db.session.flush()
    states = ", ".join(m.status for m in made)
    return [f"{community.name}: {len(made)} meetings ({states}); the held one has minutes v1 and a correction v2"]
