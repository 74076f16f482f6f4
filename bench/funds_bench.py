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

Then a budget round on the fund (`--projects` 200 accepted projects, each a proposal of kind "project";
`--voters` 50,000 verified residents of the community, each with a knapsack ballot of 1 to 8 projects, ballots
and choices inserted directly in bulk) whose results date has passed: times `rounds.compute_results` (the votes
counted from the choices, ranked, funded in order) and `rounds.publish_results` (ranks stored, each winner an
agreed action with its allocation in the ledger and its public notice to every resident), and prints both.

    .venv/bin/python bench/funds_bench.py
    .venv/bin/python bench/funds_bench.py --database-url postgresql://postgres@127.0.0.1:5432/bench_funds
"""
import argparse
import random
import statistics
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import _common  # noqa: F401  (first: puts the project on sys.path)
from _common import Database, add_database_arguments, analyze, bulk, percentile, statement_range, time_pages

from portal.auth.models import User
from portal.committees.models import Organization, OrgMembership
from portal.extensions import db
from portal.funds import rounds, services
from portal.funds.models import Fund, FundAllocation, LedgerEntry
from portal.funds.rounds_models import BudgetBallot, BudgetBallotChoice, BudgetProject, BudgetRound
from portal.places.models import Building, Community, Household, Residency, SubDistrict
from portal.proposals.models import Proposal

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


def build_round(fund, args):
    """A round on the fund in its results phase: `args.projects` accepted projects and `args.voters` ballots."""
    rng = random.Random(2027)
    now = datetime.now(UTC)
    if db.engine.dialect.name == "postgresql":  # the ledger was inserted with its ids: the sequence follows
        db.session.execute(db.text("SELECT setval(pg_get_serial_sequence('fund_ledger_entry', 'id'), "
                                   "(SELECT MAX(id) FROM fund_ledger_entry))"))
    community, keeper_id = fund.community, fund.created_by_id
    db.session.add(OrgMembership(organization_id=fund.managing_org_id, user_id=keeper_id, title="chair",
                                 start_date=date.today() - timedelta(days=400)))
    building = Building(community=community, code="1", name="Building 1")
    db.session.add(building)
    db.session.flush()
    bulk(User, [{"display_name": f"Voter {n}", "email": f"voter{n}@bench.test", "password_hash": "x",
                 "consented_at": now, "created_at": now, "password_changed_at": now} for n in range(args.voters)])
    voter_ids = list(db.session.scalars(db.select(User.id).where(User.email.like("voter%")).order_by(User.id)))
    bulk(Household, [{"building_id": building.id, "entrance": "1", "room": f"{n:05d}", "area_m2": 88}
                     for n in range(args.voters)])
    household_ids = list(db.session.scalars(db.select(Household.id).order_by(Household.id)))
    bulk(Residency, [{"user_id": u, "community_id": community.id, "household_id": h, "status": "verified",
                      "claimed_at": now, "decided_at": now} for u, h in zip(voter_ids, household_ids, strict=True)])
    total_fen = min(fund.available_fen, 5_000_000_00)  # up to 5 million yuan
    start = now - timedelta(days=40)
    round_ = BudgetRound(fund_id=fund.id, title="Bench round", description="", total_fen=total_fen,
                         ballot_kind="knapsack", voter_unit="resident", tie_rule="lower_cost", proposing_from=start,
                         review_from=start + timedelta(days=10), voting_from=start + timedelta(days=20),
                         voting_until=start + timedelta(days=30), results_from=start + timedelta(days=31),
                         created_by_id=keeper_id)
    db.session.add(round_)
    db.session.flush()
    bulk(Proposal, [{"community_id": community.id, "author_id": voter_ids[n], "title": f"项目 {n}",
                     "summary": "", "body": "", "body_html": "", "category": "other", "whole_community": True,
                     "kind": "project", "status": "deliberation", "version": 1, "support_count": 0,
                     "comment_count": 0, "created_at": start, "updated_at": start,
                     "published_at": start + timedelta(minutes=n), "deliberation_at": start}
                    for n in range(args.projects)])
    proposal_ids = list(db.session.scalars(db.select(Proposal.id).where(Proposal.kind == "project")
                                           .order_by(Proposal.id)))
    costs = [rng.randint(1_000, total_fen // 8) for _ in proposal_ids]
    bulk(BudgetProject, [{"round_id": round_.id, "proposal_id": p, "location": "", "estimated_cost_fen": c,
                          "reviewed_cost_fen": c, "review_state": "accepted", "vote_count": 0}
                         for p, c in zip(proposal_ids, costs, strict=True)])
    projects = list(db.session.execute(db.select(BudgetProject.id, BudgetProject.reviewed_cost_fen)
                                       .where(BudgetProject.round_id == round_.id).order_by(BudgetProject.id)))
    bulk(BudgetBallot, [{"round_id": round_.id, "voter_key": f"u{u}", "user_id": u, "cast_at": now,
                         "receipt": f"{u:064x}"} for u in voter_ids])
    ballot_ids = list(db.session.scalars(db.select(BudgetBallot.id).where(BudgetBallot.round_id == round_.id)
                                         .order_by(BudgetBallot.id)))
    weights = [rng.paretovariate(1.2) for _ in projects]
    choices = []
    for ballot_id in ballot_ids:
        left, chosen = total_fen, set()
        for index in rng.choices(range(len(projects)), weights=weights, k=rng.randint(1, 8)):
            project_id, cost = projects[index]
            if project_id not in chosen and cost <= left:  # a knapsack ballot: within the total
                chosen.add(project_id)
                left -= cost
        choices.extend({"ballot_id": ballot_id, "project_id": p} for p in chosen)
    bulk(BudgetBallotChoice, choices)
    db.session.commit()
    return round_.id, len(choices)


def time_round(args, fund_id):
    fund = db.session.get(Fund, fund_id)
    started = time.perf_counter()
    round_id, n_choices = build_round(fund, args)
    analyze()
    print(f"\nbuilt a round with {args.projects} projects, {args.voters} ballots and {n_choices} choices in "
          f"{time.perf_counter() - started:.1f} s")
    round_ = db.session.get(BudgetRound, round_id)
    started = time.perf_counter()
    lines = rounds.compute_results(round_)
    computed = time.perf_counter() - started
    db.session.rollback()
    round_ = db.session.get(BudgetRound, round_id)
    started = time.perf_counter()
    rounds.publish_results(None, round_)
    db.session.commit()
    published = time.perf_counter() - started
    funded = [line for line in lines if line.funded]
    print(f"compute_results: {computed * 1000:.0f} ms; publish_results (with the commit): {published * 1000:.0f} ms "
          f"({len(funded)} funded, {services.format_fen(sum(x.cost_fen for x in funded))} yuan; "
          f"{sum(1 for x in lines if not x.funded)} not funded)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--requests", type=int, default=40, help="requests per page timed")
    parser.add_argument("--projects", type=int, default=200, help="projects in the budget round")
    parser.add_argument("--voters", type=int, default=50_000, help="ballots in the budget round")
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
    with app.app_context():
        time_round(args, fund_id)
    database.finish()


if __name__ == "__main__":
    main()
