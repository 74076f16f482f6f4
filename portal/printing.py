"""Print views for lobby boards: one A4 page with a QR code linking to the item's page.

Committees pin paper notices in lobbies and residents scan them with their phones. Each printable item — a
public notice, a meeting's agenda (with its published minutes and decisions once held), a decision — has a
print page (its own minimal template: print stylesheet, large type, no navigation, no JavaScript) and the
same QR code as a PNG to download. The code always holds the absolute address built from PORTAL_BASE_URL
(portal.web.absolute_url), never from the request's Host.

A print page shows exactly what the item's own page shows to the same person: a meeting that is not public
is not there for outsiders (404), nor are unpublished minutes, nor a notice of a proposal hidden by
moderators; a members-only community asks for sign-in (or answers 403) as its pages do."""
from flask import Blueprint, Response, abort, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.auth import permissions
from portal.extensions import db
from portal.places.services import community_or_404
from portal.qr import qr_png, qr_svg
from portal.web import absolute_url, allow, public

bp = Blueprint("printing", __name__)

MAX_ID = 2**31 - 1
PNG_SCALE = 12  # pixels per module: about 4–5 cm wide at 300 dpi, sharp enough for any phone
FOLLOW_UP_LABELS = {
    "none": _l("No follow-up"),
    "open_ballot": _l("Follow-up: a ballot"),
    "create_action": _l("Follow-up: an agreed action"),
    "refer_subdistrict": _l("Follow-up: referred to the sub-district office"),
}


@bp.context_processor
def _labels():
    return {"follow_up_labels": FOLLOW_UP_LABELS}


# --- who may see what ------------------------------------------------------------------------------------

def _proposal_hidden(proposal) -> bool:
    from portal.moderation.services import is_hidden_for
    return proposal is not None and is_hidden_for(current_user, "proposal", proposal)


def _meeting_or_404(org_id, meeting_id):
    """The meeting of this organization as this viewer may see it: one they may not see is not there."""
    from portal.committees.models import Meeting
    if not (0 < meeting_id <= MAX_ID):
        abort(404)
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or meeting.organization_id != org_id:
        abort(404)
    if not permissions.can_view_meeting(current_user, meeting):
        if meeting.is_public:
            allow(False)  # a members-only community: sign in first, else 403
        abort(404)  # a closed meeting does not exist for outsiders
    return meeting


def _published_minutes(meeting):
    """Every published version, oldest first (corrections follow the version they correct); drafts never."""
    from portal.committees.models import MinutesVersion
    return db.session.scalars(db.select(MinutesVersion).where(
        MinutesVersion.meeting_id == meeting.id, MinutesVersion.status == "published")
        .order_by(MinutesVersion.version)).all()


def _decisions(meeting):
    from portal.committees.models import Decision
    return db.session.scalars(db.select(Decision).where(Decision.meeting_id == meeting.id)
                              .order_by(Decision.id)).all()


def _decision_or_404(org_id, decision_id):
    from portal.committees.models import Decision
    if not (0 < decision_id <= MAX_ID):
        abort(404)
    decision = db.session.get(Decision, decision_id)
    if decision is None or decision.meeting.organization_id != org_id:
        abort(404)
    _meeting_or_404(org_id, decision.meeting_id)
    return decision


def _notice_or_404(slug, notice_id):
    from portal.notices.models import Notice
    community = community_or_404(slug)
    if not (0 < notice_id <= MAX_ID):
        abort(404)
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.community_id != community.id:
        abort(404)
    proposal = notice.proposal
    if not permissions.can_view_proposal(current_user, proposal):
        if proposal.status == "draft":
            abort(404)
        allow(False)
    if _proposal_hidden(proposal):
        abort(404)  # its words are behind moderation: nothing to pin on a board
    _apply_notice_due(notice)
    return notice


def _apply_notice_due(notice) -> None:
    """Lazily end a notice whose time has come, as its own page does (helper B's apply_due), when it exists."""
    try:
        from portal.notices import services
    except ImportError:
        return
    apply_due = getattr(services, "apply_due", None)
    if apply_due is None:
        return
    from portal.clock import utcnow
    if apply_due(notice, utcnow()):
        db.session.commit()


# --- what the pages show ------------------------------------------------------------------------------------

def _notice_url(notice) -> str:
    return absolute_url("notices.detail", slug=notice.community.slug, notice_id=notice.id)


def _meeting_url(meeting) -> str:
    return absolute_url("committees.meeting", org_id=meeting.organization_id, meeting_id=meeting.id)


def _decision_url(decision) -> str:
    return absolute_url("committees.meeting", org_id=decision.meeting.organization_id,
                        meeting_id=decision.meeting_id, _anchor=f"decision-{decision.id}")


def _figures(notice):
    """The vote figures on the notice: (rows of (option, headcount, area m² or None), voted, electorate),
    or None when there is no ballot or its figures are not visible to this viewer."""
    ballot = notice.ballot
    if ballot is None:
        return None
    from portal.votes import services as votes
    figures = votes.visible_tally(current_user, ballot)
    if figures is None:
        return None
    with_area = ballot.method == "owners"
    rows = []
    for option in ballot.options:
        count, area = figures.option(option.id)
        rows.append((votes.option_label(option), count, area / 100 if with_area else None))
    return {"rows": rows, "voted": figures.voted_count, "electorate": figures.electorate_count,
            "voted_area": figures.voted_area / 100 if with_area else None,
            "electorate_area": figures.electorate_area / 100 if with_area else None}


def _qr_label(what: str) -> str:
    return _("QR code: scan to open %(what)s on the portal", what=what)


def _png_response(url: str, filename: str) -> Response:
    response = Response(qr_png(url, PNG_SCALE), mimetype="image/png")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    return response


# --- notices ----------------------------------------------------------------------------------------------

@bp.get("/c/<slug>/notices/<int:notice_id>/print")
@public
def notice(slug, notice_id):
    found = _notice_or_404(slug, notice_id)
    url = _notice_url(found)
    return render_template("print/notice.html", notice=found, community=found.community,
                           organization=found.organization, proposal=found.proposal, figures=_figures(found),
                           page_url=url, qr=qr_svg(url, _qr_label(_("this notice"))))


@bp.get("/c/<slug>/notices/<int:notice_id>/qr.png")
@public
def notice_qr(slug, notice_id):
    found = _notice_or_404(slug, notice_id)
    return _png_response(_notice_url(found), f"notice-{found.id}-qr.png")


# --- meetings: the agenda, and once held the published minutes and decisions -------------------------------

@bp.get("/o/<int:org_id>/meetings/<int:meeting_id>/print")
@public
def agenda(org_id, meeting_id):
    meeting = _meeting_or_404(org_id, meeting_id)
    held = meeting.status == "held"
    url = _meeting_url(meeting)
    return render_template("print/agenda.html", meeting=meeting, community=meeting.community,
                           organization=meeting.organization,
                           minutes=_published_minutes(meeting) if held else [],
                           decisions=_decisions(meeting) if held else [],
                           page_url=url, qr=qr_svg(url, _qr_label(_("this meeting"))))


@bp.get("/o/<int:org_id>/meetings/<int:meeting_id>/qr.png")
@public
def agenda_qr(org_id, meeting_id):
    meeting = _meeting_or_404(org_id, meeting_id)
    return _png_response(_meeting_url(meeting), f"meeting-{meeting.id}-qr.png")


# --- decisions --------------------------------------------------------------------------------------------

@bp.get("/o/<int:org_id>/decisions/<int:decision_id>/print")
@public
def decision(org_id, decision_id):
    found = _decision_or_404(org_id, decision_id)
    meeting = found.meeting
    url = _decision_url(found)
    return render_template("print/decision.html", decision=found, meeting=meeting, community=meeting.community,
                           organization=meeting.organization, page_url=url,
                           qr=qr_svg(url, _qr_label(_("this decision"))))


@bp.get("/o/<int:org_id>/decisions/<int:decision_id>/qr.png")
@public
def decision_qr(org_id, decision_id):
    found = _decision_or_404(org_id, decision_id)
    return _png_response(_decision_url(found), f"decision-{found.id}-qr.png")
