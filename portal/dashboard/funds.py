"""Money on the dashboard (issue #23): per community and fund, allocated vs spent vs remaining; allocations
overspent (spending beyond the first allocation, raised by a recorded decision) or idle (nothing spent 90 days
after allocation); budget rounds' projects by state per fund; money per category of demand next to that
category's issues of the last twelve months (from the issue rollups). Also the CSV / XLSX export of a fund's
month, with the dashboard's formula-safe writer. Every figure is read from stored figures or grouped over one
community's allocations."""
from datetime import timedelta
from types import SimpleNamespace

from flask import Response, abort, render_template
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func

from portal.actions.models import Action
from portal.auth import permissions
from portal.clock import local_today, utcnow
from portal.dashboard import bp, export
from portal.dashboard.models import IssueRollup
from portal.extensions import db
from portal.funds import rounds
from portal.funds import services as funds
from portal.funds.models import ENTRY_LABELS, Fund, FundAllocation
from portal.issues.models import Issue, IssueCategory
from portal.places.services import community_or_404
from portal.web import allow, public

LISTED = 50  # overspent and idle allocations listed at most


def community_money(community) -> dict:
    """What the funds dashboard shows for one community."""
    fund_rows = db.session.scalars(db.select(Fund).where(Fund.community_id == community.id).order_by(Fund.id)).all()
    fund_ids = [f.id for f in fund_rows]
    idle_before = utcnow() - timedelta(days=funds.IDLE_DAYS)
    base = db.select(FundAllocation).where(FundAllocation.fund_id.in_(fund_ids))
    overspent = db.session.scalars(base.where(FundAllocation.raised_fen > 0)
                                   .order_by(FundAllocation.id.desc()).limit(LISTED)).all() if fund_ids else []
    idle = db.session.scalars(base.where(FundAllocation.last_spent_at.is_(None),
                                         FundAllocation.created_at < idle_before,
                                         FundAllocation.allocated_fen > 0)
                              .order_by(FundAllocation.id).limit(LISTED)).all() if fund_ids else []
    return {"funds": fund_rows, "overspent": overspent, "idle": idle,
            "categories": money_by_category(community, fund_ids), "projects": rounds.projects_by_state(fund_ids)}


def money_by_category(community, fund_ids) -> list:
    """Per issue category of the community: allocated and spent through actions that came from its issues or
    hotspots, beside the category's issues of the last twelve months."""
    category = func.coalesce(Issue.category_id, Action.hotspot_category_id)
    money = {}
    if fund_ids:
        for category_id, allocated, spent in db.session.execute(
                db.select(category, func.sum(FundAllocation.allocated_fen),
                          func.sum(FundAllocation.spent_fen - FundAllocation.refunded_fen))
                .join(Action, FundAllocation.action_id == Action.id)
                .outerjoin(Issue, Action.issue_id == Issue.id)
                .where(FundAllocation.fund_id.in_(fund_ids)).group_by(category)).all():
            money[category_id] = (int(allocated or 0), int(spent or 0))
    today = local_today(community.time_zone)
    since = today.year * 12 + today.month - 1 - 11
    issues = dict(db.session.execute(
        db.select(IssueRollup.category_id, func.sum(IssueRollup.issues))
        .where(IssueRollup.community_id == community.id, IssueRollup.month >= since)
        .group_by(IssueRollup.category_id)).all())
    rows = []
    for c in db.session.scalars(db.select(IssueCategory).where(IssueCategory.community_id == community.id)
                                .order_by(IssueCategory.id)).all():
        allocated, spent = money.get(c.id, (0, 0))
        rows.append(SimpleNamespace(name=c.name, allocated=allocated, spent=spent, issues=int(issues.get(c.id) or 0)))
    allocated, spent = money.get(None, (0, 0))
    if allocated:
        rows.append(SimpleNamespace(name=_("Not from an issue"), allocated=allocated, spent=spent, issues=None))
    return rows


@bp.get("/c/<slug>/funds/dashboard")
def funds_dashboard(slug):
    community = community_or_404(slug)
    allow(permissions.can_view_dashboard(current_user, community=community))
    return render_template("dashboard/funds.html", community=community, idle_days=funds.IDLE_DAYS,
                           **community_money(community))


# --- a fund's month as a file ----------------------------------------------------------------------------------

def _tables(fund, month) -> list:
    yuan = funds.format_fen
    entries = funds.month_entries(fund, month)
    corrected = funds.corrections_of([e.id for e in entries])
    figures = funds.statement(fund, month, limit=0)
    summary = SimpleNamespace(
        title=_("Statement %(month)s", month=month), headers=[_("Figure"), _("Yuan")],
        rows=[[_("Opening balance"), yuan(figures.opening_fen)], [_("Income"), yuan(figures.figures.income_fen)],
              [_("Allocated"), yuan(figures.figures.allocated_fen)],
              [_("Spent"), yuan(figures.figures.spent_fen)], [_("Refunded"), yuan(figures.figures.refunded_fen)],
              [_("Closing balance"), yuan(figures.closing_fen)]])
    rows = [[e.id, e.occurred_on.isoformat(), str(ENTRY_LABELS[e.kind]), yuan(e.amount_fen),
             yuan(e.delta_fen) if e.kind == "correction" else "", e.corrects_id or "",
             e.allocation.title if e.allocation else "", e.source or "", funds.payee_shown(current_user, e) or "",
             e.description, _("corrected to %(amount)s", amount=yuan(corrected[e.id][0])) if e.id in corrected else ""]
            for e in entries]
    ledger = SimpleNamespace(
        title=_("Ledger %(month)s", month=month),
        headers=[_("No."), _("Date"), _("Kind"), _("Amount (yuan)"), _("Change (yuan)"), _("Corrects no."),
                 _("Allocation"), _("Source"), _("Payee"), _("Note"), _("Corrected")], rows=rows)
    return [summary, ledger]


@bp.get("/funds/<int:fund_id>/export/<month>.<fmt>")
@public
def fund_export(fund_id, month, fmt):
    """A month of a fund's ledger, as public as the fund's page (persons' names masked the same way)."""
    fund = funds.fund_or_none(fund_id)
    if fund is None or not funds.valid_month(month) or fmt not in ("csv", "xlsx"):
        abort(404)
    allow(permissions.can_view_fund(current_user, fund))
    tables = _tables(fund, month)
    if fmt == "csv":
        body, mimetype = export.to_csv(tables), "text/csv; charset=utf-8"
    else:
        body = export.to_xlsx(tables)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="fund-{fund.id}-{month}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    return response
