"""Fund pages: a community's funds, a fund's public page (居务公开: figures, allocations by project, the ledger
a page at a time, receipts for the community's people, payees who are persons masked), the monthly statement
on A4 and its CSV / XLSX export, the page where the managing organization records entries, and opening a
fund. Each view checks one rule, calls one service, commits."""
from types import SimpleNamespace

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.actions.models import Action
from portal.auth import permissions
from portal.committees.models import Organization
from portal.errors import DomainError
from portal.extensions import db
from portal.formviews import form_view
from portal.funds import bp, rounds, services
from portal.funds.forms import AllocationForm, CorrectionForm, FundForm, IncomeForm, RefundForm, SpendingForm
from portal.funds.models import ENTRY_LABELS, KIND_LABELS, KINDS, LedgerEntry
from portal.places.services import community_or_404
from portal.qr import qr_svg
from portal.web import absolute_url, allow, public, send_upload

MAX_ID = 2**31 - 1
CHOICES = 200  # the latest actions, allocations and entries offered in a form's list


@bp.app_template_filter("yuan")
def yuan(fen):
    return services.format_fen(fen)


def _options(pairs) -> list:
    return [SelectChoice(value, label) for value, label in pairs]


def _id_arg(name):
    value = request.args.get(name, type=int)
    return value if value is not None and 0 < value <= MAX_ID else None


def _fund_or_404(fund_id):
    fund = services.fund_or_none(fund_id)
    if fund is None:
        abort(404)
    allow(permissions.can_view_fund(current_user, fund))
    return fund


def _keeper_fund_or_404(fund_id):
    fund = _fund_or_404(fund_id)
    allow(permissions.can_keep_fund_ledger(current_user, fund))
    return fund


def _month_or_404(month):
    if not services.valid_month(month):
        abort(404)
    return month


# --- the community's funds and opening one ------------------------------------------------------------------

@bp.get("/c/<slug>/funds")
@public
def index(slug):
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    return render_template("funds/index.html", community=community, funds=services.community_funds(community),
                           may_create=permissions.can_create_fund(current_user, community),
                           budget_rounds=rounds.community_rounds(community))


def _fund_form_choices(form, community):
    form.kind.choices = _options((k, KIND_LABELS[k]) for k in KINDS)
    form.estate.choices = _options([("", _("None (the community's fund)"))]
                                   + [(e.id, e.name) for e in community.estates])
    orgs = db.session.scalars(db.select(Organization).where(Organization.community_id == community.id)
                              .order_by(Organization.id)).all()
    form.managing_org.choices = _options((o.id, f"{o.name} ({o.kind_label})") for o in orgs)


@bp.route("/c/<slug>/funds/new", methods=["GET", "POST"])
def create(slug):
    community = community_or_404(slug)
    allow(permissions.can_create_fund(current_user, community))
    form = FundForm()
    _fund_form_choices(form, community)

    def call():
        estate = next((e for e in community.estates if e.id == form.estate.data), None)
        org = _get(Organization, form.managing_org.data)
        if org is None:
            raise DomainError(_("Choose the managing organization."), "managing_org")
        return services.create_fund(current_user, kind=form.kind.data, name=form.name.data, managing_org=org,
                                    community=None if estate else community, estate=estate,
                                    description=form.description.data)

    return form_view(form, call, validate=False, status=400, message=_("The fund is open."),
                     done=lambda fund: url_for("funds.detail", fund_id=fund.id),
                     page="funds/create.html", context={"form": form, "community": community})


# --- a fund's public page -----------------------------------------------------------------------------------

@bp.get("/funds/<int:fund_id>")
@public
def detail(fund_id):
    fund = _fund_or_404(fund_id)
    page = services.entries_page(fund, before=_id_arg("before"))
    allocations, next_allocations = services.allocations_page(fund, before=_id_arg("allocations_before"))
    return render_template(
        "funds/detail.html", fund=fund, community=fund.community, page=page, allocations=allocations,
        next_allocations=next_allocations, months=services.months_of(fund), entry_labels=ENTRY_LABELS,
        payee=lambda entry: services.payee_shown(current_user, entry),
        see_receipts=permissions.can_see_fund_receipts(current_user, fund),
        keeps=permissions.can_keep_fund_ledger(current_user, fund), budget_rounds=rounds.fund_rounds(fund),
        opens_rounds=permissions.can_manage_budget_round(current_user, fund))


@bp.get("/funds/receipts/<key>", defaults={"size": None})
@bp.get("/funds/receipts/<key>/<int:size>")
def receipt(key, size):
    entry = db.session.scalar(db.select(LedgerEntry).where(LedgerEntry.receipt_key == key))
    if entry is None:
        abort(404)
    allow(permissions.can_see_fund_receipts(current_user, entry.fund))
    from portal.proposals.attachments import IMAGE_SIZES
    found = SimpleNamespace(kind=entry.receipt_kind, filename=entry.receipt_filename, entry=entry)
    return send_upload(found, lambda f, s=None: services.receipt_path(f.entry, s), size, IMAGE_SIZES,
                       public=False)


# --- the monthly statement (its CSV / XLSX export: portal/dashboard/funds.py) ----------------------------

@bp.get("/funds/<int:fund_id>/statement/<month>")
@public
def statement(fund_id, month):
    fund = _fund_or_404(fund_id)
    found = services.statement(fund, _month_or_404(month))
    url = absolute_url("funds.detail", fund_id=fund.id)
    return render_template("print/fund_statement.html", fund=fund, statement=found, community=fund.community,
                           organization=fund.managing_org, entry_labels=ENTRY_LABELS, page_url=url,
                           payee=lambda entry: services.payee_shown(current_user, entry),
                           qr=qr_svg(url, _("QR code: scan to open %(what)s on the portal",
                                               what=_("this fund's public page"))))


# --- recording entries -----------------------------------------------------------------------------------------

def _label(entry):
    return f"#{entry.id} {ENTRY_LABELS[entry.kind]} {yuan(entry.amount_fen)} ({entry.occurred_on.isoformat()})"


def _choices(fund, forms):
    none = [("", _("None"))]
    allocations = db.session.scalars(db.select(services.FundAllocation).where(
        services.FundAllocation.fund_id == fund.id).order_by(services.FundAllocation.id.desc()).limit(CHOICES)).all()
    allocation_choices = [(a.id, f"{a.title} ({_('%(left)s yuan left', left=yuan(a.remaining_fen))})")
                          for a in allocations]
    actions = db.session.scalars(db.select(Action).where(Action.community_id == fund.community_id)
                                 .order_by(Action.id.desc()).limit(CHOICES)).all() if fund.community_id else []
    decisions = [(d.id, f"{d.meeting.title}: {d.text[:80]}") for d in services.decisions_for(fund)]
    ballots = [(b.id, b.question[:100]) for b in services.ballots_for(fund)]
    entries = db.session.scalars(db.select(LedgerEntry).where(
        LedgerEntry.fund_id == fund.id, LedgerEntry.kind != "correction")
        .order_by(LedgerEntry.id.desc()).limit(CHOICES)).all()
    allocation, spending = forms["allocation"], forms["spending"]
    allocation.action.choices = _options(none + [(a.id, a.title) for a in actions])
    allocation.allocation.choices = _options(none + allocation_choices)
    allocation.decision.choices = _options(none + decisions)
    spending.decision.choices = _options(none + decisions)
    allocation.ballot.choices = _options(none + ballots)
    spending.ballot.choices = _options(none + ballots)
    spending.allocation.choices = _options(allocation_choices)
    spending.owners_decision.choices = _options(none + [(b.id, b.question[:100])
                                                        for b in services.owners_decisions_for(fund)])
    forms["refund"].refund_of.choices = _options((e.id, f"{_label(e)} {services.payee_shown(current_user, e)}")
                                                 for e in entries if e.kind == "spending")
    forms["correction"].entry.choices = _options((e.id, _label(e)) for e in entries)


def _forms(fund, posted=None, form=None):
    forms = {"income": IncomeForm(formdata=None), "allocation": AllocationForm(formdata=None),
             "spending": SpendingForm(formdata=None), "refund": RefundForm(formdata=None),
             "correction": CorrectionForm(formdata=None)}
    if posted is not None:
        forms[posted] = form
    _choices(fund, forms)
    return forms


def _record_page(fund, forms, status=200):
    return render_template("funds/record.html", fund=fund, community=fund.community, forms=forms,
                           is_maintenance=fund.kind == "maintenance"), status


@bp.get("/funds/<int:fund_id>/record")
def record(fund_id):
    fund = _keeper_fund_or_404(fund_id)
    return _record_page(fund, _forms(fund))


def _entry_view(fund_id, kind, form_class, run):
    fund = _keeper_fund_or_404(fund_id)
    form = form_class()
    forms = _forms(fund, kind, form)
    return form_view(form, lambda: run(fund, form), validate=False, status=400,
                     message=_("The entry is in the ledger."),
                     done=lambda entry: url_for("funds.detail", fund_id=fund.id, _anchor=f"entry-{entry.id}"),
                     page=lambda: _record_page(fund, forms, 400)[0])


def _get(model, value):
    return db.session.get(model, value) if value is not None and 0 < value <= MAX_ID else None


@bp.post("/funds/<int:fund_id>/income")
def add_income(fund_id):
    return _entry_view(fund_id, "income", IncomeForm, lambda fund, f: services.record_income(
        current_user, fund, services.parse_yuan(f.amount.data), source=f.source.data,
        occurred_on=services.parse_day(f.occurred_on.data), description=f.description.data))


@bp.post("/funds/<int:fund_id>/allocations")
def add_allocation(fund_id):
    from portal.committees.models import Decision
    from portal.votes.models import Ballot

    def run(fund, f):
        return services.allocate(
            current_user, fund, services.parse_yuan(f.amount.data), action=_get(Action, f.action.data),
            title=f.title.data, allocation=services.allocation_in(fund, f.allocation.data),
            decision=_get(Decision, f.decision.data), ballot=_get(Ballot, f.ballot.data),
            occurred_on=services.parse_day(f.occurred_on.data), description=f.description.data)
    return _entry_view(fund_id, "allocation", AllocationForm, run)


@bp.post("/funds/<int:fund_id>/spending")
def add_spending(fund_id):
    from portal.committees.models import Decision
    from portal.votes.models import Ballot

    def run(fund, f):
        upload = request.files.get(f.receipt.name)
        receipt = services.Receipt(upload.read(), upload.filename or "receipt") if upload else None
        return services.record_spending(
            current_user, fund, services.allocation_in(fund, f.allocation.data),
            services.parse_yuan(f.amount.data), payee=f.payee.data, payee_kind=f.payee_kind.data,
            receipt=receipt, occurred_on=services.parse_day(f.occurred_on.data), description=f.description.data,
            decision=_get(Decision, f.decision.data), ballot=_get(Ballot, f.ballot.data),
            owners_decision=_get(Ballot, f.owners_decision.data))
    return _entry_view(fund_id, "spending", SpendingForm, run)


@bp.post("/funds/<int:fund_id>/refunds")
def add_refund(fund_id):
    return _entry_view(fund_id, "refund", RefundForm, lambda fund, f: services.record_refund(
        current_user, fund, services.entry_in(fund, f.refund_of.data), services.parse_yuan(f.amount.data),
        occurred_on=services.parse_day(f.occurred_on.data), description=f.description.data))


@bp.post("/funds/<int:fund_id>/corrections")
def add_correction(fund_id):
    def run(fund, f):
        entry = services.entry_in(fund, f.entry.data)
        if entry is None:
            raise DomainError(_("Choose the entry to correct."), "entry")
        return services.correct_entry(current_user, entry, services.parse_yuan(f.amount.data, allow_zero=True),
                                      reason=f.reason.data)
    return _entry_view(fund_id, "correction", CorrectionForm, run)


@bp.cli.command("rebuild-figures")
def rebuild_figures_command():
    """Recompute every fund's stored figures from its ledger entries (after a bulk load or a restore)."""
    import click

    from portal.funds.models import Fund
    funds = db.session.scalars(db.select(Fund).order_by(Fund.id)).all()
    for fund in funds:
        services.rebuild_figures(fund)
    db.session.commit()
    click.echo(f"{len(funds)} funds rebuilt")
