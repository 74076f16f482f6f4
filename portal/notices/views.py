"""Notice pages: the community's notices, one notice (the decision, the ballot's figures, the period, how to
object, the objections with their answers), lodging an objection and answering one. Loading a notice applies
its due step first (a period that ended with every objection answered moves the proposal on), so nothing
waits for `run-due`. Each view checks one rule, calls one service, commits."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from portal import versions
from portal.auth import permissions
from portal.clock import utcnow
from portal.errors import DomainError
from portal.extensions import db
from portal.formviews import form_view, show_on_form
from portal.notices import bp, services
from portal.notices.forms import AnswerForm, ObjectionForm
from portal.places.services import community_or_404
from portal.proposals.models import OUTCOME_LABELS, STATE_LABELS
from portal.sharing import share_card
from portal.votes.scope import scope_label
from portal.web import absolute_url, allow, page_key, public, year_changes


def _load(slug, notice_id):
    community = community_or_404(slug)
    notice = services.notice_in(community, notice_id)
    if notice is None:
        abort(404)
    allow(permissions.can_view_proposal(current_user, notice.proposal))
    if services.apply_due(notice):
        db.session.commit()
    return notice


def _detail_url(notice, anchor=""):
    return url_for("notices.detail", slug=notice.community.slug, notice_id=notice.id) + anchor


def _ballot_context(notice):
    """The ballot's result and figures as the ballot page shows them (only for a closed ballot)."""
    if notice.ballot is None:
        return {}
    from portal.votes import views as ballot_views
    return {**ballot_views._template_context(notice.ballot), "result": ballot_views.result_of(notice.ballot)}


@bp.get("/c/<slug>/notices")
@public
def index(slug):
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    after = request.args.get("after") or None
    try:
        board = versions.remember("notice_board", community, lambda: _board(community, after), *page_key())
    except DomainError as error:  # a stale or edited link: the first page, and why
        flash(str(error.message), "error")
        return redirect(url_for("notices.index", slug=slug))
    return render_template("notices/index.html", community=community, board=board)


def _board(community, after):
    """A page of the board, rendered: kept under the community's version for every viewer of the same address
    in the same language, until an open notice's period ends (its words change, and viewing it then ends it
    when no objection waits) or the year does (dates gain their year); not kept when a notice's proposal is
    hidden by moderators (what its row says depends on the viewer)."""
    board = services.community_notices(community, current_user, after=after)
    now = utcnow()
    if [n for n in board.open if services.apply_due(n, now)]:
        db.session.commit()
    notices = board.notices
    more = url_for("notices.index", slug=community.slug, after=board.next_after) if board.next_after else None
    html = Markup(render_template(
        "notices/_board.html", community=community, notices=notices, more_url=more, first_page=after is None,
        announcements=services.owners_announcements(community) if after is None else [], scope_label=scope_label,
        objections=services.objection_counts(notices), outcome_labels=OUTCOME_LABELS, now=now))
    until = min([year_changes(community.time_zone),
                 *[n.ends_at for n in notices if n.status == "open" and n.ends_at > now]])
    return versions.Kept(html, until=until, keep=not any(n.proposal.hidden_state for n in notices))


def _detail_page(notice, objection_form=None, answer_forms=None, status=200):
    viewer = current_user
    ballot_context = _ballot_context(notice)
    return render_template(
        "notices/detail.html", notice=notice, community=notice.community, proposal=notice.proposal,
        outcome_labels=OUTCOME_LABELS, proposal_states=STATE_LABELS, now=utcnow(),
        in_period=services.in_period(notice), unanswered=services.unanswered_count(notice),
        may_object=services.in_period(notice) and permissions.can_object(viewer, notice)
        and not services.has_objected(viewer, notice),
        has_objected=services.has_objected(viewer, notice),
        may_answer=permissions.can_answer_objection(viewer, notice),
        objection_form=objection_form or ObjectionForm(formdata=None), answer_forms=answer_forms or {},
        answer_form=AnswerForm(formdata=None),
        print_url=url_for("printing.notice", slug=notice.community.slug, notice_id=notice.id),
        ballot_context=ballot_context, share=_share(notice),
        **{k: v for k, v in ballot_context.items() if k not in ("community", "proposal", "ballot")}), status


def _share(notice):
    community, proposal = notice.community, notice.proposal
    outcome = OUTCOME_LABELS[notice.outcome]
    return share_card("notice", notice.id, public=permissions.can_share_card("notice", notice),
                      url=absolute_url("notices.detail", slug=community.slug, notice_id=notice.id),
                      title=f"{_('Public notice')} · {proposal.title}",
                      description=_("Public notice of a decision in %(community)s: %(outcome)s.",
                                    community=community.name, outcome=outcome),
                      community=community,
                      image_parts=(proposal.title, community.name, f"{_('Public notice')} · {outcome}"))


@bp.get("/c/<slug>/notices/<int:notice_id>")
@public
def detail(slug, notice_id):
    return _detail_page(_load(slug, notice_id))


@bp.post("/c/<slug>/notices/<int:notice_id>/objections")
def object_(slug, notice_id):
    notice = _load(slug, notice_id)
    form = ObjectionForm()
    if not services.in_period(notice):  # a page left open past the period: say so rather than a bare 403
        db.session.rollback()
        show_on_form(form, DomainError(_("The notice period has ended: objections are no longer taken."), "body"))
        return _detail_page(notice, objection_form=form, status=400)
    allow(permissions.can_object(current_user, notice))
    return form_view(form, lambda: services.lodge_objection(current_user, notice, form.body.data), validate=False,
                     field="body", status=400,
                     message=_("Your objection is published. The committee will answer it here."),
                     done=lambda objection: _detail_url(notice, f"#objection-{objection.id}"),
                     page=lambda: _detail_page(notice, objection_form=form))


@bp.post("/c/<slug>/notices/<int:notice_id>/objections/<int:objection_id>/answer")
def answer(slug, notice_id, objection_id):
    notice = _load(slug, notice_id)
    objection = services.objection_in(notice, objection_id)
    if objection is None:
        abort(404)
    allow(permissions.can_answer_objection(current_user, notice))
    if objection.answered_at is not None:  # answered meanwhile (a second tab, a colleague): say so
        flash(_("This objection has already been answered."), "error")
        return redirect(_detail_url(notice, f"#objection-{objection.id}"))
    form = AnswerForm()
    return form_view(form, lambda: services.answer_objection(current_user, objection, form.answer.data),
                     validate=False, field="answer", status=400, message=_("The answer is published."),
                     done=_detail_url(notice, f"#objection-{objection.id}"),
                     page=lambda: _detail_page(notice, answer_forms={objection.id: form}))


@bp.app_template_global()
def proposal_notice(proposal):
    """The public notice of a proposal, for its page's link to where residents object (None before one)."""
    return services.notice_for(proposal)
