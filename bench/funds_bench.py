"""A fund with 100,000 ledger entries (issue #23): its public page and its monthly statement.

Bulk-inserts one community, its residents' committee (the keeper) and one public-welfare fund with `--entries`
(100,000) ledger entries over `--months` (60) months: income (10 %), 300 allocations to projects, spending from
them with receipts (most of the rest, one in five paid to a person), refunds of spending (2 %) and corrections of
income (1 %), amounts in fen up to 50 million yuan (tests/funds/test_exact_sums.py goes beyond 2**53 fen).
Then `services.rebuild_figures` computes the stored figures (the fund's, each allocation's, each month's) and
the script checks them against the exact sums it generated (Python integers) before timing. Runs ANALYZE (VACUUM
ANALYZE on PostgreSQL), then requests each page `--requests` times through `app.test_client()` as a visitor:

- the fund's page `GET /funds/<id>` (figures, the first page of allocations and of the ledger), the ledger
  deep in its history (`?before=<id>`), the community's funds;
- the monthly statement `GET /funds/<id>/statement/<month>` of the busiest month, and the month's CSV export.

Prints median and p95 wall time, median CPU time of this process and SQL statements per request.

    .venv/bin/python bench/funds_bench.py
    .venv/bin/python bench/funds_bench.py --database-url postgresql://postgres@127.0.0.1:5432/bench_funds
"""
import argparse
import random
import statistics
import time
from collections import Counter
from datetime import UTC, date, datetime

import _common  # noqa: F401  (first: puts the project on sys.path)
from _common import Database, add_database_arguments, analyze, bulk, percentile, statement_range, time_pages

from portal.auth.models import User
from portal.committees.models import Organization
from portal.extensions import db
from portal.funds import services
from portal.funds.models import Fund, FundAllocation, LedgerEntry
from portal.places.models import Community, SubDistrict

ALLOCATIONS = 300


def build(args):
    """The fund and its entries; (fund, expected figures, the busiest month, an id halfway down the ledger)."""
    rng = random.Random(23)
    sd = SubDistrict(name="Bench sub-district", slug="bench-sd")
    community = Community(sub_district=sd, name="Bench community", slug="bench")
    keeper = User(display_name="Keeper", email="keeper@bench.test", password_hash="x", consented_at=datetime.now(UTC))
    db.session.add_all([sd, community, keeper])
    db.session.flush()
    rc = Organization(kind="residents_committee", name="Residents' committee", community=community)
    db.session.add(rc)
    db.session.flush()
    fund = Fund(sub_district_id=sd.id, community_id=community.id, kind="public_welfare", name="Bench fund",
                description="", managing_org_id=rc.id, created_by_id=keeper.id)
    db.session.add(fund)
    db.session.flush()
    bulk(FundAllocation, [{"fund_id": fund.id, "title": f"项目 {n}", "created_at": datetime.now(UTC)}
                          for n in range(ALLOCATIONS)])
    allocation_ids = db.session.scalars(db.select(FundAllocation.id).where(FundAllocation.fund_id == fund.id)
                                        .order_by(FundAllocation.id)).all()
    start = date.today().replace(day=1)
    months = []
    for k in range(args.months):
        index = start.year * 12 + start.month - 1 - (args.months - 1 - k)
        months.append(date(index // 12, index % 12 + 1, 1))

    rows, expected = [], Counter()
    left = dict.fromkeys(allocation_ids, 0)  # what each allocation may still spend
    spendings = []  # (row number, amount) of spending not yet refunded
    incomes = []
    n = 0

    def add(kind, amount, month_start, **columns):
        nonlocal n
        n += 1
        day = month_start.replace(day=rng.randint(1, 28))
        effect = columns.pop("effect", kind)
        delta = columns.pop("delta", amount)
        rows.append({"id": n, "fund_id": fund.id, "kind": kind, "effect_kind": effect, "amount_fen": amount,
                     "delta_fen": delta, "occurred_on": day, "month": services.month_of(day),
                     "recorded_by_id": keeper.id, "description": "", **columns})
        expected[effect] += delta
        return n

    per_month = args.entries // args.months
    for month_start in months:
        goal, i = min(args.entries, len(rows) + per_month), 0
        while len(rows) < goal:
            i += 1
            roll = rng.random()
            if roll < 0.10 or not incomes:
                amount = rng.randint(1, 5_000_000_000)  # up to 50 million yuan
                incomes.append((add("income", amount, month_start, source="街道拨款"), amount))
                if expected["income"] - expected["allocation"] > 2_000_000_000:
                    allocation = rng.choice(allocation_ids)
                    amount = rng.randint(1_000_000_000, 2_000_000_000)
                    add("allocation", amount, month_start, allocation_id=allocation)
                    left[allocation] += amount
            elif roll < 0.12 and spendings:
                at, paid, allocation = spendings.pop(rng.randrange(len(spendings)))
                amount = rng.randint(1, paid)
                add("refund", amount, month_start, allocation_id=allocation, refund_of_id=at)
                left[allocation] += amount
            elif roll < 0.13:
                at, amount = incomes[rng.randrange(len(incomes))]
                if amount > 1000 and expected["income"] - expected["allocation"] > 1000:
                    add("correction", amount - 1000, month_start, effect="income", delta=-1000, corrects_id=at)
                    incomes = [(a, m) for a, m in incomes if a != at]  # corrected once
            else:
                allocation = max(left, key=left.get) if i % 50 == 0 else rng.choice(allocation_ids)
                if left[allocation] <= 0:
                    continue
                amount = rng.randint(1, min(left[allocation], 50_000_000))
                person = rng.random() < 0.2
                at = add("spending", amount, month_start, allocation_id=allocation,
                         payee="王小明" if person else "北京某某工程有限公司",
                         payee_kind="person" if person else "organization", receipt_key=f"bench-{n + 1}",
                         receipt_kind="pdf", receipt_filename="发票.pdf", receipt_size=1000)
                left[allocation] -= amount
                spendings.append((at, amount, allocation))
    bulk(LedgerEntry, rows)
    services.rebuild_figures(fund)
    db.session.commit()
    busiest = Counter(r["month"] for r in rows).most_common(1)[0][0]
    return fund, expected, len(rows), busiest, rows[len(rows) // 2]["id"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--requests", type=int, default=40, help="requests per page timed")
    args = parser.parse_args()
    database = Database(parser, args)
    app = database.app
    with app.app_context():
        database.recreate()
        started = time.perf_counter()
        fund, expected, count, busiest, middle = build(args)
        analyze()
        stored = services.stored_figures(fund)
        want = {"income_fen": expected["income"], "allocated_fen": expected["allocation"],
                "spent_fen": expected["spending"], "refunded_fen": expected["refund"], "entry_count": count}
        if stored != want or services.full_figures(fund) != want:
            raise SystemExit(f"stored figures {stored} differ from the exact sums {want}")
        fund_id, slug = fund.id, fund.community.slug
        print(f"built {count} entries in {time.perf_counter() - started:.1f} s; exact: income "
              f"{services.format_fen(stored['income_fen'])} yuan, balance {services.format_fen(fund.balance_fen)} "
              f"yuan (> 2**53 fen: {stored['income_fen'] > 2**53}); busiest month {busiest}")
    pages = {
        "fund page (figures, allocations, ledger)": lambda: f"/funds/{fund_id}",
        "fund page, ledger halfway (?before=)": lambda: f"/funds/{fund_id}?before={middle}",
        "the community's funds": lambda: f"/c/{slug}/funds",
        f"statement {busiest} (A4)": lambda: f"/funds/{fund_id}/statement/{busiest}",
        f"export {busiest} CSV": lambda: f"/funds/{fund_id}/export/{busiest}.csv",
    }
    results = time_pages(app, pages, None, args.requests)
    print(f"\n{'page':<42} {'median ms':>9} {'p95 ms':>7} {'CPU ms':>7} {'SQL':>5} {'KB':>6}")
    for label, (times, cpu, statements, size) in results.items():
        print(f"{label:<42} {statistics.median(times):>9.1f} {percentile(times, 95):>7.1f} "
              f"{statistics.median(cpu):>7.1f} {statement_range(statements):>5} {size / 1024:>6.1f}")
    database.finish()


if __name__ == "__main__":
    main()
