"""A constant number of SQL statements per ballot page, however large the electorate and the log: the ballot
page (open, and closed with its result), casting a vote (first cast and change, with and without htmx), the
log page (while open: head and length; after close: a page of the published log) and the receipt check —
for an owners' ballot of 10 voters and for one of some 360 voters (400 more units) with 2,000 log entries,
seen by a visitor, an owner, a buyer of several units, a co-owner, the developer's representative and the
opening committee."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import insert

from portal.auth.models import User
from portal.clock import utcnow
from portal.extensions import db
from portal.places.models import Household, Owner, Ownership
from portal.votes import log, services
from portal.votes.models import Ballot, BallotCaster, BallotLogEntry, BallotVote, BallotVoter
from tests.csrf import csrf_token
from tests.factories import gen_building, gen_community, gen_membership, gen_organization, gen_residency
from tests.proposals import gen_proposal
from tests.queries import count_queries, recorded_statements
from tests.votes import gen_ballot, option, vote


def counted(send):
    """(response, statements) of one request."""
    with recorded_statements() as statements:
        response = send()
    assert response.status_code < 400, response.status_code
    return response, len(statements)


# --- a large owners' register and its ballot ---------------------------------------------------------------

def bulk_users(n, prefix, password_hash):
    now = utcnow()
    db.session.execute(insert(User), [{"display_name": f"{prefix} {i}", "email": f"{prefix}{i}@example.org",
                                       "password_hash": password_hash, "consented_at": now} for i in range(n)])
    return list(db.session.scalars(db.select(User.id).where(User.email.like(f"{prefix}%")).order_by(User.id)))


def large_community(world, n_units):
    """Community "big": the world's owners in the same roles as in x (w.owner_a one unit, w.buyer three,
    w.co_owner_1/2 one co-owned unit, w.developer_rep the developer's four units), plus `n_units` units of
    other owners (a tenth co-owned, a tenth of buyers holding two, some with no account); w.hoa_chair chairs
    its homeowners' committee. Returns a proposal of it in consultation."""
    community = gen_community(world.sd_a, name="Big Garden", slug="big")
    building = gen_building(community, code="9", name="9号楼")
    hoa = gen_organization("homeowners_committee", community=community, name="Big homeowners' committee")
    gen_membership(world.hoa_chair, hoa, title="chair")
    gen_membership(world.member_x, gen_organization("residents_committee", community=community))
    total = n_units + 9
    db.session.execute(insert(Household), [{"building_id": building.id, "entrance": str(1 + n // 100),
                                            "room": f"{n % 100:04d}", "area_m2": Decimal(8000 + n * 7) / 100}
                                           for n in range(total)])
    units = list(db.session.scalars(db.select(Household.id).where(Household.building_id == building.id)
                                    .order_by(Household.id)))
    gen_residency(world.reporter, household=db.session.get(Household, units[0]))
    people = bulk_users(n_units, "big-owner-", world.reporter.password_hash)
    start = date(2020, 1, 1)
    owners = [
        ("Owner A", world.owner_a.id, False, [units[0]]),
        ("Buyer", world.buyer.id, False, units[1:4]),
        ("Co-owner 1", world.co_owner_1.id, False, [units[4]]),
        ("Co-owner 2", world.co_owner_2.id, False, [units[4]]),
        ("Developer", world.developer_rep.id, True, units[5:9]),
    ]
    rest = units[9:]
    n = 0
    while n < len(rest):
        person = people[n]
        linked = person if n % 7 else None  # some owners have no account: paper only
        if n % 10 == 1 and n + 1 < len(rest):  # a co-owned unit
            owners.append((f"Co {n}", linked, False, [rest[n]]))
            owners.append((f"Co {n}b", people[n + 1], False, [rest[n]]))
            n += 1
        elif n % 10 == 2 and n + 1 < len(rest):  # a buyer of two units
            owners.append((f"Buyer {n}", linked, False, [rest[n], rest[n + 1]]))
            n += 2
            continue
        else:
            owners.append((f"Owner {n}", linked, False, [rest[n]]))
        n += 1
    db.session.execute(insert(Owner), [{"community_id": community.id, "name": name,
                                        "kind": "developer" if developer else "person",
                                        "is_developer": developer, "user_id": user_id}
                                       for name, user_id, developer, _units in owners])
    owner_ids = list(db.session.scalars(db.select(Owner.id).where(Owner.community_id == community.id)
                                        .order_by(Owner.id)))
    db.session.execute(insert(Ownership), [{"household_id": unit, "owner_id": owner_id, "start_date": start}
                                           for owner_id, (_n, _u, _d, held) in zip(owner_ids, owners)
                                           for unit in held])
    proposal = gen_proposal(world, community=community)
    from portal.proposals import services as proposal_services
    proposal_services.move_to_deliberation(world.member_x, proposal, "Owners decide")
    return proposal


def bulk_log(ballot, n_entries, world):
    """`n_entries` casts by the voters who are not the world's people (each voting, then changing their
    mind), appended with a valid hash chain and their live votes, as if cast one by one."""
    voters = db.session.execute(
        db.select(BallotVoter.id, BallotVoter.headcount, BallotVoter.area_cm, db.func.min(BallotCaster.user_id))
        .join(BallotCaster, BallotCaster.voter_id == BallotVoter.id)
        .where(BallotVoter.ballot_id == ballot.id)
        .group_by(BallotVoter.id, BallotVoter.headcount, BallotVoter.area_cm).order_by(BallotVoter.id)).all()
    world_users = {u.id for u in (world.owner_a, world.buyer, world.co_owner_1, world.co_owner_2,
                                  world.developer_rep)}
    voters = [v for v in voters if v[3] not in world_users]
    options = [o.id for o in ballot.options]
    now = utcnow()
    prev, seq, entries, live = ballot.log_head, ballot.log_length, [], {}
    for n in range(n_entries):
        voter = voters[n % len(voters)]
        seq += 1
        fields = {"ballot_id": ballot.id, "seq": seq, "voter_id": voter[0], "option_id": options[n % 3],
                  "headcount": voter[1], "area_cm": voter[2], "cast_by_id": voter[3], "is_paper": False,
                  "at": now, "receipt": log.new_receipt()}
        digest = log.entry_hash(prev, fields)
        entries.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
    db.session.execute(insert(BallotLogEntry), entries)
    rows = db.session.execute(db.select(BallotLogEntry.id, BallotLogEntry.voter_id, BallotLogEntry.option_id,
                                        BallotLogEntry.cast_by_id).where(BallotLogEntry.ballot_id == ballot.id)
                              .order_by(BallotLogEntry.seq)).all()
    for row in rows:
        live[row.voter_id] = row
    db.session.execute(insert(BallotVote), [{"ballot_id": ballot.id, "voter_id": r.voter_id, "option_id": r.option_id,
                                             "entry_id": r.id, "cast_by_id": r.cast_by_id, "is_paper": False,
                                             "cast_at": now} for r in live.values()])
    db.session.execute(db.update(Ballot).where(Ballot.id == ballot.id).values(log_head=prev, log_length=seq))
    services.rebuild_running_totals(ballot)  # the votes were written around the services
    db.session.expire(ballot)


def two_ballots(world):
    """The small ballot (community x: 10 voters, a handful of casts) and the large one (community big:
    ~360 voters, 2,000 log entries), each with the world's owners having voted the same way."""
    small = gen_ballot(world, "owners")
    large = gen_ballot(world, "owners", proposal=large_community(world, 400))
    bulk_log(large, 2000, world)
    for ballot in (small, large):
        vote(world.owner_a, ballot, "no")
        vote(world.owner_a, ballot, "yes")
        vote(world.co_owner_2, ballot, "abstain")
        vote(world.developer_rep, ballot, "no")
    db.session.commit()
    assert services.tally(large).electorate_count > 30 * services.tally(small).electorate_count
    assert db.session.get(Ballot, large.id).log_length > 2000
    return small, large


def page_of(ballot, tail="") -> str:
    return f"/c/{ballot.community.slug}/ballots/{ballot.id}{tail}"


def pages(client, ballot):
    slug = ballot.community.slug
    paths = [page_of(ballot), page_of(ballot, "/log"), page_of(ballot, "/receipt"), f"/c/{slug}/ballots",
             f"/c/{slug}/proposals/{ballot.proposal_id}"]
    return {path.replace(page_of(ballot), "<ballot>").replace(ballot.community.slug, "<c>")
            .replace(str(ballot.proposal_id), "<p>"): count_queries(client, path) for path in paths}


@pytest.mark.parametrize("viewer", [None, "owner_a", "buyer", "co_owner_1", "developer_rep", "hoa_chair"])
def test_ballot_pages_run_the_same_statements_for_10_or_360_voters(client, auth, world, viewer):
    small, large = two_ballots(world)
    if viewer:
        auth.login(getattr(world, viewer))
    assert pages(client, small) == pages(client, large)


@pytest.mark.parametrize("htmx", [False, True])
def test_casting_runs_the_same_statements_for_10_or_360_voters(client, auth, world, htmx):
    small, large = two_ballots(world)
    auth.login(world.buyer)
    headers = {"HX-Request": "true"} if htmx else {}
    counts = []
    for ballot in (small, large):
        voter_id = services.my_votes(world.buyer, ballot)[0][0].id
        token = csrf_token(client, page_of(ballot))
        sent = []
        for code in ("yes", "no"):  # the first cast, then a change of mind
            data = {"csrf_token": token, "voter_id": str(voter_id), "option_id": str(option(ballot, code).id)}
            sent.append(counted(lambda: client.post(page_of(ballot, "/vote"), data=data, headers=headers))[1])
        # A refused cast (a forged option) too.
        data = {"csrf_token": token, "voter_id": str(voter_id), "option_id": "999999"}
        sent.append(counted(lambda: client.post(page_of(ballot, "/vote"), data=data, headers=headers))[1])
        counts.append(sent)
    assert counts[0] == counts[1]


def test_receipt_checks_run_the_same_statements_for_short_or_long_logs(client, world):
    small, large = two_ballots(world)
    counts = []
    for ballot in (small, large):
        first = db.session.scalar(db.select(BallotLogEntry.receipt).where(
            BallotLogEntry.ballot_id == ballot.id, BallotLogEntry.cast_by_id == world.owner_a.id)
            .order_by(BallotLogEntry.seq))
        latest = db.session.scalar(db.select(BallotLogEntry.receipt).where(
            BallotLogEntry.ballot_id == ballot.id, BallotLogEntry.cast_by_id == world.owner_a.id)
            .order_by(BallotLogEntry.seq.desc()))
        token = csrf_token(client, page_of(ballot, "/receipt"))
        sent = []
        for receipt in (first, latest, "ABCDEFGHIJKLMNOPQRST"):
            response, n = counted(lambda: client.post(page_of(ballot, "/receipt"),
                                                      data={"csrf_token": token, "receipt": receipt}))
            sent.append(n)
        counts.append(sent)
    assert counts[0] == counts[1]


@pytest.mark.parametrize("viewer", [None, "owner_a", "hoa_chair"])
def test_closed_ballot_and_published_log_pages_run_the_same_statements(client, auth, world, viewer):
    small, large = two_ballots(world)
    for ballot in (small, large):
        services.close(world.hoa_chair, ballot, "Counted early for the test")
    db.session.commit()
    if viewer:
        auth.login(getattr(world, viewer))
    few, many = pages(client, small), pages(client, large)
    assert few == many
    # A later page of the long log costs what the first does.
    deep = count_queries(client, page_of(large, "/log?page=15"))
    assert deep == many["<ballot>/log"]
