"""Demo public notices for 花家地社区 (run after the votes demo, whose decided ballots started notices):
the first passed decision's notice carries objections, two answered by the committee and one still waiting
(so its page shows "waiting for answers"); every other notice whose period is over ends (the proposal is
carried out, or archived when rejected). Idempotent."""
from datetime import timedelta

from portal.clock import utcnow
from portal.extensions import db
from portal.notices import services
from portal.notices.models import Notice, Objection
from portal.places.models import Community, Residency

SLUG = "huajiadi"
OBJECTIONS = (
    ("公示的表决结果里没有写清楚具体的实施时间，请补充说明。", "将在下月业委会例会后公布实施时间表，并在本页和楼道公告栏同步张贴。"),
    ("希望公开相关费用明细，方便业主监督。", "费用明细已附在业委会的结果说明中，纸质版可到物业服务中心查阅。"),
    ("施工期间噪音会不会影响老人休息？", None),
)


def seed_notices() -> list[str]:
    community = db.session.scalar(db.select(Community).where(Community.slug == SLUG))
    if community is None:
        return []
    notices = db.session.scalars(db.select(Notice).where(Notice.community_id == community.id)
                                 .order_by(Notice.id)).all()
    if not notices:
        return [f"{community.name}: no decided proposals, no notices"]
    now = utcnow()
    if db.session.scalar(db.select(Objection.id).join(Notice).where(Notice.community_id == community.id)
                         .limit(1)) is not None:
        return [f"{community.name}: notices already seeded"]
    residents = db.session.scalars(db.select(Residency.user_id).where(
        Residency.community_id == community.id, Residency.status == "verified", Residency.ended_at.is_(None))
        .group_by(Residency.user_id).order_by(db.func.min(Residency.id))).all()
    shown = next((n for n in notices if n.outcome == "passed"), notices[0])
    answerers = [m.user for m in (shown.organization.current_memberships() if shown.organization is not None else [])]
    for (body, answer), user_id in zip(OBJECTIONS, residents):
        at = shown.starts_at + timedelta(days=1)
        objection = Objection(notice_id=shown.id, user_id=user_id, body=body, created_at=at)
        if answer and answerers:
            objection.answer, objection.answered_by_id = answer, answerers[0].id
            objection.answered_at = at + timedelta(days=1)
        db.session.add(objection)
    db.session.flush()
    db.session.expire(shown, ["objections"])
    ended = sum(services.apply_due(n, now) for n in notices if n.id != shown.id)
    return [f"{community.name}: {len(notices)} public notices ({ended} ended), objections on notice {shown.id}"]
