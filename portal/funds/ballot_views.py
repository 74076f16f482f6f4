"""The ballot of a budget round: the page where a resident (or their household) chooses projects, checks what
is left of the total, casts and changes the ballot; the live figure htmx asks for as boxes are ticked; and the
receipt check.

Without JavaScript the page is a form of checkboxes with two buttons: "Check my selection" (the server adds the
reviewed costs up and shows what is left or over, the boxes kept) and "Cast" (the same check, then the service
casts; a refusal comes back on the page with the boxes kept). With htmx each tick posts the form to
`ballot_check`, which answers the summary alone. Each view checks one rule, calls one service, commits.
`flask funds verify-round ID` checks a round's log and counts."""
import click
from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from portal.auth import permissions
from portal.clock import utcnow
from portal.errors import DomainError
from portal.extensions import db
from portal.formviews import DB_INT_MAX, form_view
from portal.funds import bp, budget_ballot
from portal.funds.rounds_models import BudgetRound
from portal.votes.forms import RECEIPT_MAX, ReceiptForm
from portal.web import allow, public

bp.add_app_template_global(budget_ballot.can_vote_in_round, "can_vote_in_round")


class BallotForm(FlaskForm):
    """Only the CSRF token: the ticked projects are read as ids (`project`, repeated) and never stored as
    typed, and the button pressed is `do`."""


def _round_or_404(round_id) -> BudgetRound:
    round_ = db.session.get(BudgetRound, round_id) if 0 < round_id <= DB_INT_MAX else None
    if round_ is None or round_.fund.community is None:
        abort(404)
    allow(permissions.can_view_budget_round(current_user, round_))
    return round_


def _ballot_url(round_, anchor=""):
    return url_for("funds.ballot", round_id=round_.id) + anchor


def _ticked(round_, projects, ids, error=None):
    """(the Selection of the ticked ids, the message to show): a forged id is the message, nothing ticked."""
    try:
        selection = budget_ballot.check_selection(round_, budget_ballot.read_ids(ids), projects)
    except DomainError as refusal:
        return None, error or str(refusal.message)
    return selection, error


def _context(round_, *, posted=None, error=None, checked=False):
    """What the page and its summary show: the projects, the person's live ballot, and the selection — the
    posted one when the person sent boxes, else their live ballot's."""
    projects = budget_ballot.ballot_projects(round_)
    ballot, current = budget_ballot.current_ballot(current_user, round_)
    ids = posted if posted is not None else sorted(current)
    selection, error = _ticked(round_, projects, ids, error)
    if selection is not None and checked and error is None:
        error = selection.problem
    return {"round": round_, "fund": round_.fund, "community": round_.community, "zone": round_.community.time_zone,
            "projects": projects, "phase": budget_ballot.voting_state(round_, utcnow()),
            "may_vote": budget_ballot.can_vote_in_round(current_user, round_),
            "ballot": ballot, "current": current, "selection": selection,
            "ticked": selection.ids if selection is not None else set(), "error": error, "checked": checked,
            "form": BallotForm()}


@bp.get("/funds/rounds/<int:round_id>/ballot")
@public
def ballot(round_id):
    round_ = _round_or_404(round_id)
    return render_template("funds/budget_ballot.html", **_context(round_))


@bp.post("/funds/rounds/<int:round_id>/ballot")
def ballot_cast(round_id):
    round_ = _round_or_404(round_id)
    posted = request.form.getlist("project")
    form = BallotForm()
    if request.form.get("do") != "cast":
        return render_template("funds/budget_ballot.html", **_context(round_, posted=posted, checked=True))
    state = budget_ballot.voting_state(round_)
    if state != budget_ballot.VOTING:  # a page left open past the close: say so rather than a bare 403
        error = _("Voting in this round has closed: your ballot was not cast.") if state == "closed" else \
            _("Voting in this round is not open.")
        return render_template("funds/budget_ballot.html", **_context(round_, posted=posted, error=error)), 400
    allow(budget_ballot.can_vote_in_round(current_user, round_))

    def refused(error):
        return render_template("funds/budget_ballot.html",
                               **_context(round_, posted=posted, error=str(error.message))), 400

    return form_view(form, lambda: budget_ballot.cast_ballot(current_user, round_, posted), validate=False,
                     guard_input=False, done=_ballot_url(round_, "#my-ballot"), refused=refused,
                     message=lambda entry: _("Your ballot is counted. Keep your receipt to check it later: "
                                             "%(receipt)s", receipt=entry.receipt))


@bp.post("/funds/rounds/<int:round_id>/ballot/check")
def ballot_check(round_id):
    """The summary alone (what is chosen, what is left or over), for htmx as boxes are ticked. Writes nothing."""
    round_ = _round_or_404(round_id)
    context = _context(round_, posted=request.form.getlist("project"), checked=True)
    return render_template("funds/budget_ballot_summary.html", **context)


@bp.route("/funds/rounds/<int:round_id>/receipt", methods=["GET", "POST"])
@public
def ballot_receipt(round_id):
    round_ = _round_or_404(round_id)
    form = ReceiptForm()
    checked = None
    if request.method == "POST":
        text = (form.receipt.data or "")[:RECEIPT_MAX * 2]
        if not text.strip():
            form.receipt.errors = [_("Paste the receipt you were given when you voted.")]
        else:
            checked = budget_ballot.receipt_status(round_, text)
    return render_template("funds/budget_ballot_receipt.html", round=round_, community=round_.community,
                           zone=round_.community.time_zone, form=form, checked=checked)


@bp.cli.command("verify-round")
@click.argument("round_id", type=int)
def verify_round_command(round_id):
    """Recompute a budget round's log and its projects' votes from the ballots; exits 1 naming the first broken
    entry when anything differs (as `flask verify-ballot` does for a ballot)."""
    round_ = db.session.get(BudgetRound, round_id) if 0 < round_id <= DB_INT_MAX else None
    if round_ is None:
        raise click.ClickException(f"No budget round {round_id}.")
    report = budget_ballot.verify_round_log(round_)
    if not report.ok:
        where = f" (entry {report.broken_seq})" if report.broken_seq is not None else ""
        click.echo(f"Budget round {round_.id}: verification FAILED{where}: {report.message}", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"Budget round {round_.id}: {report.message}")
