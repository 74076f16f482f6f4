"""Paper ballots and proxies of owners' ballots (issue #19): the print views (the announcement 公告, one named
ballot form 表决票 per voter and all of them in one batch, the tally sheet 计票单), entering a paper ballot from
a form's QR code, the scans of signed forms and authorizations, and the proxies (书面委托) the committee records.

Print views follow portal.printing: their own minimal templates (print stylesheet, no navigation, no
JavaScript, no forms), one A4 page per sheet, QR codes holding absolute addresses from PORTAL_BASE_URL. Each
form's code opens the committee's entering page for its voter, with a token (votes.services.paper) that
names that voter and no other; scanned by anyone else, it leads to their own vote or to the receipt check."""
from datetime import date

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from portal.auth import permissions
from portal.auth.models import User
from portal.clock import in_zone
from portal.errors import DomainError
from portal.extensions import db
from portal.formviews import flash_back, form_view, posted_text
from portal.places.models import Building, Household, Ownership
from portal.qr import qr_svg
from portal.votes import bp, electorate, scans, services
from portal.votes.forms import PaperForm, ProxyForm, RevokeProxyForm
from portal.votes.models import BallotProxy, BallotScan, BallotVote, BallotVoter
from portal.votes.scope import units_clause
from portal.votes.views import (
    MAX_ID,
    _load,
    _search_voters,
    _template_context,
    _voter,
    _whole,
    option_text,
)
from portal.web import absolute_url, allow, send_upload

FORMS_PER_PRINT = 100  # named forms in one batch page (each one A4 sheet); more go on the following pages


# --- what the sheets show --------------------------------------------------------------------------------

def _units_of(ballot, voters) -> dict[int, list[tuple[str, int]]]:
    """Each voter's units within the ballot's scope as (label, area in hundredths of m²), as held on the day
    the electorate was frozen: two queries for a page of forms, whatever its length."""
    on = in_zone(ballot.frozen_at or ballot.opens_at, ballot.community.time_zone).date()
    owner_ids = {v.owner_id: v.id for v in voters if v.owner_id is not None}
    household_ids = {v.household_id: v.id for v in voters if v.household_id is not None}
    units: dict[int, list] = {v.id: [] for v in voters}

    def label(building, entrance, room):
        return f"{building}, {entrance}-{room}" if entrance else f"{building}, {room}"
    if owner_ids:
        rows = db.session.execute(
            select(Ownership.owner_id, Building.name, Household.entrance, Household.room, Household.area_m2)
            .join(Household, Household.id == Ownership.household_id)
            .join(Building, Building.id == Household.building_id)
            .where(Ownership.owner_id.in_(list(owner_ids)), units_clause(ballot),
                   Ownership.held_on(on))
            .order_by(Building.name, Household.entrance, Household.room))
        for owner_id, building, entrance, room, area in rows:
            units[owner_ids[owner_id]].append((label(building, entrance, room), round((area or 0) * 100)))
    if household_ids:
        rows = db.session.execute(
            select(Household.id, Building.name, Household.entrance, Household.room, Household.area_m2)
            .join(Building, Building.id == Household.building_id).where(Household.id.in_(list(household_ids))))
        for household_id, building, entrance, room, area in rows:
            units[household_ids[household_id]].append((label(building, entrance, room), round((area or 0) * 100)))
    return units


def _form_url(ballot, voter_id) -> str:
    return absolute_url("votes.paper_form", slug=ballot.community.slug, ballot_id=ballot.id, voter_id=voter_id,
                        token=services.form_token(ballot, voter_id))


def _sheets(ballot, voters):
    units = _units_of(ballot, voters)
    return [{"voter": v, "units": units.get(v.id, []), "url": _form_url(ballot, v.id),
             "qr": qr_svg(_form_url(ballot, v.id), _("QR code of the ballot form of %(name)s", name=v.label))}
            for v in voters]


def _print_context(ballot):
    return {"organization": ballot.organization, **_template_context(ballot)}


def _printable(slug, ballot_id, *, needs_voters=False):
    ballot = _load(slug, ballot_id)
    allow(permissions.can_print_ballot(current_user, ballot))
    if needs_voters and ballot.status == "scheduled":
        abort(404)  # the forms name the voters, frozen when voting opens
    return ballot


# --- print views -----------------------------------------------------------------------------------------

@bp.get("/c/<slug>/ballots/<int:ballot_id>/print/announcement")
def print_announcement(slug, ballot_id):
    ballot = _printable(slug, ballot_id)
    url = absolute_url("votes.detail", slug=slug, ballot_id=ballot.id)
    return render_template("votes/print_announcement.html", page_url=url,
                           qr=qr_svg(url, _("QR code: scan to open this ballot on the portal")),
                           **_print_context(ballot))


@bp.get("/c/<slug>/ballots/<int:ballot_id>/print/forms")
def print_forms(slug, ballot_id):
    ballot = _printable(slug, ballot_id, needs_voters=True)
    total = ballot.electorate_count
    pages = max(1, -(-total // FORMS_PER_PRINT))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    voters = list(db.session.scalars(select(BallotVoter).where(BallotVoter.ballot_id == ballot.id)
                                     .order_by(BallotVoter.label, BallotVoter.id)
                                     .offset((page - 1) * FORMS_PER_PRINT).limit(FORMS_PER_PRINT)))
    return render_template("votes/print_forms.html", sheets=_sheets(ballot, voters), page=page, pages=pages,
                           **_print_context(ballot))


@bp.get("/c/<slug>/ballots/<int:ballot_id>/print/forms/<int:voter_id>")
def print_form(slug, ballot_id, voter_id):
    ballot = _printable(slug, ballot_id, needs_voters=True)
    voter = _voter(ballot, voter_id) if 0 < voter_id <= MAX_ID else None
    if voter is None:
        abort(404)
    return render_template("votes/print_forms.html", sheets=_sheets(ballot, [voter]), page=1, pages=1,
                           **_print_context(ballot))


@bp.get("/c/<slug>/ballots/<int:ballot_id>/print/tally")
def print_tally(slug, ballot_id):
    ballot = _printable(slug, ballot_id)
    figures = services.visible_tally(current_user, ballot) if ballot.status != "scheduled" else None
    url = absolute_url("votes.detail", slug=slug, ballot_id=ballot.id)
    return render_template("votes/print_tally.html", figures=figures, page_url=url,
                           qr=qr_svg(url, _("QR code: scan to open this ballot on the portal")),
                           **_print_context(ballot))


# --- entering a paper ballot from a form's QR code ---------------------------------------------------------

def _uploaded(form_field) -> tuple[str, bytes] | None:
    upload = request.files.get(form_field.name)
    if not upload or not upload.filename:
        return None
    return upload.filename, upload.read()


@bp.route("/c/<slug>/ballots/<int:ballot_id>/paper/<int:voter_id>/<token>", methods=["GET", "POST"])
def paper_form(slug, ballot_id, voter_id, token):
    ballot = _load(slug, ballot_id)
    voter = _voter(ballot, voter_id) if 0 < voter_id <= MAX_ID else None
    if voter is None or not services.form_token_ok(ballot, voter.id, token):
        abort(404)
    if not permissions.can_enter_paper(current_user, ballot):
        # The owner (or anyone) scanning their own form: their vote on the ballot page, else the receipt check.
        if any(v.id == voter.id for v in electorate.voters_for(ballot, current_user)):
            return redirect(url_for("votes.detail", slug=slug, ballot_id=ballot.id, _anchor=f"vote-{voter.id}"))
        return redirect(url_for("votes.receipt", slug=slug, ballot_id=ballot.id))
    form = PaperForm()
    form.option_id.choices = [SelectChoice(str(o.id), option_text(o)) for o in ballot.options]
    proxy = services.live_proxy(ballot, voter)
    live = db.session.scalar(select(BallotVote).where(BallotVote.ballot_id == ballot.id,
                                                      BallotVote.voter_id == voter.id))

    def enter():
        option_id = _whole(form.option_id.data)
        if option_id is None:
            raise DomainError(_("Choose what the paper ballot says."), "option_id")
        return services.enter_paper(current_user, ballot, voter, option_id, by_proxy=bool(form.by_proxy.data),
                                    scan=_uploaded(form.scan))
    return form_view(form, enter, validate=False, page="votes/paper_form.html",
                     context={"form": form, "voter": voter, "proxy": proxy, "live": live,
                              "units": _units_of(ballot, [voter])[voter.id], "accepted": scans.accepted_label(),
                              **_template_context(ballot)},
                     message=lambda entry: _("The paper ballot of %(name)s is entered. Its receipt: %(receipt)s",
                                             name=voter.label, receipt=entry.receipt),
                     done=url_for("votes.paper", slug=slug, ballot_id=ballot.id))


# --- scans -------------------------------------------------------------------------------------------------

@bp.get("/c/<slug>/ballots/<int:ballot_id>/scans/<key>", defaults={"size": None})
@bp.get("/c/<slug>/ballots/<int:ballot_id>/scans/<key>/<int:size>")
def scan(slug, ballot_id, key, size):
    ballot = _load(slug, ballot_id)
    allow(permissions.can_view_ballot_scan(current_user, ballot))
    found = db.session.scalar(select(BallotScan).where(BallotScan.key == key[:64],
                                                       BallotScan.ballot_id == ballot.id))
    if found is None:
        abort(404)
    return send_upload(found, scans.path_for, size, scans.IMAGE_SIZES, public=False)


# --- proxies -----------------------------------------------------------------------------------------------

def _signed_on(text) -> date | None:
    try:
        return date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        return None


@bp.route("/c/<slug>/ballots/<int:ballot_id>/proxies", methods=["GET", "POST"])
def proxies(slug, ballot_id):
    ballot = _load(slug, ballot_id)
    allow(permissions.can_record_proxy(current_user, ballot))
    words = posted_text(request.values.get("q")).strip()[:100]
    form = ProxyForm()
    picked = _voter(ballot, _whole(form.voter_id.data)) if request.method == "POST" else None

    def record():
        from portal.auth.services import find_by_login
        login = (form.proxy_login.data or "").strip()
        proxy_user = find_by_login(login) if login else None
        if login and proxy_user is None:
            raise DomainError(_("No account has this phone number or e-mail. Leave it empty for a proxy without "
                                "an account: their ballot is then entered on paper."), "proxy_login")
        signed_on = _signed_on(form.signed_on.data)
        if form.signed_on.data and signed_on is None:
            raise DomainError(_("Give the date as on the authorization, such as 2026-12-01."), "signed_on")
        if proxy_user is not None and not form.proxy_name.data:
            form.proxy_name.data = proxy_user.display_name
        return services.record_proxy(current_user, ballot, picked, proxy_user=proxy_user,
                                     proxy_name=form.proxy_name.data or "", signed_on=signed_on,
                                     scan=_uploaded(form.scan))

    def page():
        matches = _search_voters(ballot, words, also=picked)
        form.voter_id.choices = [SelectChoice(str(v.id), v.label) for v in matches]
        listed = services.ballot_proxies(ballot)
        return render_template("votes/proxies.html", form=form, words=words, matches=matches, listed=listed,
                               voted=services.voted_proxy_ids(ballot), cap=services.proxy_cap(),
                               accounts=_accounts(listed), accepted=scans.accepted_label(),
                               scans={s.proxy_id: s for s, _label in scans.scan_rows(current_user, ballot)
                                      if s.proxy_id},
                               **_template_context(ballot))
    return form_view(form, record, validate=False, page=page,
                     message=lambda proxy: _("The authorization of %(name)s to %(proxy)s is recorded.",
                                             name=proxy.voter.label, proxy=proxy.proxy_name),
                     done=url_for("votes.proxies", slug=slug, ballot_id=ballot.id))


def _accounts(listed) -> dict[int, User]:
    ids = {p.proxy_user_id for p in listed if p.proxy_user_id}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}


@bp.post("/c/<slug>/ballots/<int:ballot_id>/proxies/<int:proxy_id>/revoke")
def revoke_proxy(slug, ballot_id, proxy_id):
    ballot = _load(slug, ballot_id)
    proxy = db.session.scalar(select(BallotProxy).where(
        BallotProxy.id == proxy_id, BallotProxy.ballot_id == ballot.id)) if 0 < proxy_id <= MAX_ID else None
    if proxy is None:
        abort(404)
    allow(permissions.can_revoke_proxy(current_user, proxy))
    back = url_for("votes.proxies", slug=slug, ballot_id=ballot.id) \
        if permissions.can_record_proxy(current_user, ballot) \
        else url_for("votes.detail", slug=slug, ballot_id=ballot.id, _anchor="vote")
    return form_view(RevokeProxyForm(), lambda: services.revoke_proxy(current_user, proxy), done=back, validate=False,
                     message=_("The authorization is revoked: the proxy can no longer vote for the owner."),
                     refused=flash_back(back))
