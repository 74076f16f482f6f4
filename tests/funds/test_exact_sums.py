"""Exact fen over 100,000 entries: bulk-inserted entries whose sums pass 2**53 (where a float loses fen) give
stored figures, after a rebuild, equal to the Python integers they were made from; and the services then
carry them on exactly."""
import random
from datetime import date

from sqlalchemy import insert

from portal.extensions import db
from portal.funds import services
from portal.funds.models import FundAllocation, FundMonth, LedgerEntry
from tests.funds import png_bytes

N = 100_000


def test_exact_fen_over_100000_entries(world):
    w, fund = world, world.fund
    rng = random.Random(2026)
    allocation = FundAllocation(fund_id=fund.id, title="Bulk project")
    db.session.add(allocation)
    db.session.flush()
    rows, income, allocated, spent = [], 0, 0, 0
    for n in range(N):
        day = date(2020 + n % 6, n % 12 + 1, n % 28 + 1)
        if n % 4 != 3:
            amount = rng.randint(1, 900_000_000_000)  # up to 9 billion yuan, odd fen included
            kind, income = "income", income + amount
            columns = {"source": "grant"}
        elif n % 8 == 3:
            amount = rng.randint(1, 10_000_000)
            kind, allocated = "allocation", allocated + amount
            columns = {"allocation_id": allocation.id}
        else:
            amount = rng.randint(1, max(1, allocated - spent))
            if spent + amount > allocated:
                continue
            kind, spent = "spending", spent + amount
            columns = {"allocation_id": allocation.id, "payee": "Co.", "payee_kind": "organization",
                       "receipt_key": f"bulk-{n}"}
        rows.append({"fund_id": fund.id, "kind": kind, "effect_kind": kind, "amount_fen": amount,
                     "delta_fen": amount, "occurred_on": day, "month": services.month_of(day),
                     "recorded_by_id": w.keeper.id, "description": "", **columns})
    for start in range(0, len(rows), 10_000):
        db.session.execute(insert(LedgerEntry), rows[start:start + 10_000])
    services.rebuild_figures(fund)
    db.session.commit()
    assert income > 2**53
    assert services.stored_figures(fund) == services.full_figures(fund) == {
        "income_fen": income, "allocated_fen": allocated, "spent_fen": spent, "refunded_fen": 0,
        "entry_count": len(rows)}
    assert fund.balance_fen == income - spent
    months = db.session.scalars(db.select(FundMonth).where(FundMonth.fund_id == fund.id)).all()
    assert sum(m.income_fen for m in months) == income and sum(m.entry_count for m in months) == len(rows)
    db.session.refresh(allocation)
    assert (allocation.allocated_fen, allocation.spent_fen) == (allocated, spent)
    last = max(months, key=lambda m: m.month).month
    assert services.statement(fund, last, limit=0).closing_fen == income - spent

    db.session.refresh(allocation)
    assert allocation.remaining_fen == allocated - spent > 0
    services.record_income(w.keeper, fund, 1, source="one fen")  # the services carry on exactly
    services.record_spending(w.keeper, fund, allocation, 1, payee="Co.", payee_kind="organization",
                             receipt=services.Receipt(png_bytes(), "r.png"))
    db.session.commit()
    assert services.stored_figures(fund) == services.full_figures(fund)
    assert fund.balance_fen == income + 1 - spent - 1
