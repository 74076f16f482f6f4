"""Budget round pages, on the funds blueprint: opening a round on a fund, the round's public page (its phases
with dates, its rules, the projects with their review, the outcome with the figures, and in implementing each
winner's action, ratings and spending against its allocation), proposing a project, reviewing one, publishing
the results. Each view checks one rule, calls one service, commits."""
from types import SimpleNamespace

from flask import abort, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from portal.auth import permissions
from portal.clock import utcnow
from portal.extensions import db
from portal.formviews import flash_back, form_view
from portal.funds import bp, rounds, services
from portal.funds.round_forms import DATE_FIELDS, ProjectForm, ReviewForm, RoundForm
from portal.web import allow, public

MAX_ID = 2**31 - 1


def _round_or_404(round_id):
    round_ = rounds.round_or_none(round_id) if 0 < round_id <= MAX_ID else None
    if round_ is None:
        abort(404)
    allow(permissions.can_view_budget_round(current_user, round_))
    return round_


@bp.app_template_global()
def round_phase_label(round_):
    """The current phase of a round in words (the lists of rounds on the fund and community pages)."""
    return rounds.PHASE_LABELS[rounds.round_phase(round_)]


# --- opening a round ---------------------------------------------------------------------------------------

@bp.route("/funds/<int:fund_id>/rounds/new", methods=["GET", "POST"])
def round_create(fund_id):
    fund = services.fund_or_none(fund_id) if 0 < fund_id <= MAX_ID else None
    if fund is None:
        abort(404)
    allow(permissions.can_manage_budget_round(current_user, fund))
    form = RoundForm()

    def call():
        return rounds.create_round(
            current_user, fund, title=form.title.data, description=form.description.data, total=form.total.data,
            ballot_kind=form.ballot_kind.data, max_approvals=form.max_approvals.data,
            voter_unit=form.voter_unit.data, tie_rule=form.tie_rule.data,
            dates={name: getattr(form, name).data for name in DATE_FIELDS})

    return form_view(form, call, validate=False, status=400, message=_("The budget round is open."),
                     done=lambda round_: url_for("funds.round_detail", round_id=round_.id),
                     page="funds/round_create.html",
                     context={"form": form, "fund": fund, "community": fund.community,
                              "free": rounds.free_for_rounds(fund)})


# --- the round's page --------------------------------------------------------------------------------------

def _mergeable(projects):
    return [p for p in projects if p.review_state in ("pending", "accepted")]


def _review_form(project, choices, posted=False):
    """A pending project's review form (prefixed by the project: one per project on the page)."""
    form = ReviewForm(prefix=f"p{project.id}") if posted else ReviewForm(prefix=f"p{project.id}", formdata=None)
    form.merge_into.choices = [SelectChoice("", _("Choose a project"))] + [
        SelectChoice(p.id, p.proposal.title) for p in choices if p.id != project.id]
    return form


def _page(round_, *, project_form=None, review=None, status=200):
    """The round page; `review` is (project, its posted form) when a review came back refused."""
    now = utcnow()
    phase = rounds.round_phase(round_, now)
    projects = rounds.round_projects(round_)
    reviews = {}
    if permissions.can_review_budget_project(current_user, round_) and phase in ("proposing", "review"):
        mergeable = _mergeable(projects)
        reviews = {p.id: _review_form(p, mergeable) for p in projects if p.review_state == "pending"}
        if review is not None:
            reviews[review[0].id] = review[1]
    may_propose = phase == "proposing" and permissions.can_propose_budget_project(current_user, round_)
    winners = [p for p in projects if p.funded]
    outcome = None
    if round_.results_published_at is not None:
        funded_fen = sum(p.reviewed_cost_fen for p in winners)
        outcome = SimpleNamespace(funded_fen=funded_fen, remaining_fen=round_.total_fen - funded_fen,
                                  funded=len(winners), ranked=sum(1 for p in projects if p.result_rank))
    body = render_template(
        "funds/round.html", round=round_, fund=round_.fund, community=round_.community, phase=phase,
        phase_label=rounds.PHASE_LABELS[phase], steps=rounds.phase_steps(round_, now), projects=projects,
        project_form=project_form or (ProjectForm(formdata=None) if may_propose else None), reviews=reviews,
        may_publish=phase == "results" and permissions.can_manage_budget_round(current_user, round_.fund),
        outcome=outcome, left=rounds.money_left(round_, projects), ratings=rounds.ratings_of([p.action_id for p in winners if p.action_id]),
        zone=round_.fund.time_zone)
    return body, status


@bp.get("/funds/rounds/<int:round_id>")
@public
def round_detail(round_id):
    round_ = _round_or_404(round_id)
    if rounds.apply_due(round_):
        db.session.commit()
    return _page(round_)


@bp.post("/funds/rounds/<int:round_id>/projects")
def round_propose(round_id):
    round_ = _round_or_404(round_id)
    allow(permissions.can_propose_budget_project(current_user, round_))
    form = ProjectForm()
    return form_view(form, lambda: rounds.propose_project(
        current_user, round_, title=form.title.data, summary=form.summary.data, location=form.location.data,
        estimated_cost=form.estimated_cost.data), validate=False, status=400,
        message=_("Your project is proposed. The committee reviews it before voting opens."),
        done=lambda project: url_for("funds.round_detail", round_id=round_.id, _anchor=f"project-{project.id}"),
        page=lambda: _page(round_, project_form=form, status=400)[0])


@bp.post("/funds/rounds/<int:round_id>/projects/<int:project_id>/review")
def round_review(round_id, project_id):
    round_ = _round_or_404(round_id)
    allow(permissions.can_review_budget_project(current_user, round_))
    project = rounds.project_in(round_, project_id if 0 < project_id <= MAX_ID else None)
    if project is None:
        abort(404)
    form = _review_form(project, _mergeable(rounds.round_projects(round_)), posted=True)

    def call():
        merge_into = rounds.project_in(round_, form.merge_into.data)
        return rounds.review_project(current_user, project, decision=form.decision.data,
                                     reviewed_cost=form.reviewed_cost.data, merge_into=merge_into,
                                     reason=form.reason.data)

    return form_view(form, call, validate=False, status=400, message=_("The review is recorded."),
                     done=lambda p: url_for("funds.round_detail", round_id=round_.id, _anchor=f"project-{p.id}"),
                     page=lambda: _page(round_, review=(project, form), status=400)[0])


@bp.post("/funds/rounds/<int:round_id>/publish")
def round_publish(round_id):
    round_ = _round_or_404(round_id)
    allow(permissions.can_manage_budget_round(current_user, round_.fund))
    here = url_for("funds.round_detail", round_id=round_.id)
    return form_view(FlaskForm(), lambda: rounds.publish_results(current_user, round_), validate=False,
                     message=_("The results are published: the winners are agreed actions with their money."),
                     done=here + "#results", refused=flash_back(here))
