"""Timing ballots at the size of a very large homeowners' decision: 300,000 units and 1,000,000 log entries.

Run by hand, never by the test suite (see bench/README.md):

    .venv/bin/python bench/votes_bench.py --database-url postgresql://postgres@127.0.0.1:5432/test_d
    .venv/bin/python bench/votes_bench.py                             # a throwaway SQLite file (~2.5 min)
    .venv/bin/python bench/votes_bench.py --scale 0.1                 # a tenth of the sizes, quick

It DROPS AND RECREATES every table of the database it is given. It bulk-loads a register of owners (COPY on
PostgreSQL, executemany in large transactions on SQLite): 300 buildings of 1,000 units with exact Decimal
areas, single owners, buyers of several units, co-owned units, the developer's unsold units cast by its
representative, past owners who sold; then opens an owners' ballot through portal.votes.services, so the
real code freezes the electorate (timed); then bulk-loads 1,000,000 log entries with a valid SHA-256 chain
(portal.votes.log.entry_hash) and the live votes, and measures the full tally, casting (the service and the
page), the ballot page, log verification, closing, and the published log."""
import argparse
import functools
import random
import statistics
import time
from datetime import date, timedelta
from decimal import Decimal

import _common  # noqa: F401  (first: puts the project on sys.path, sets a throwaway instance folder)
from _common import (
    PASSWORD,
    Database,
    StatementCounter,
    add_database_arguments,
    analyze,
    percentile,
    sign_in,
    statement_range,
    views_built,
)
from sqlalchemy import func, insert, select, text, update

from portal.extensions import db

UNITS_PER_BUILDING = 1000  # 5 entrances × 25 floors × 8 rooms
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建国志远晓东红梅海燕玉兰淑珍春华德胜"
QUESTION = "是否同意使用专项维修资金更换全小区屋面防水层？"
NOTICE = ("根据《民法典》第二百七十八条，现就使用专项维修资金更换全小区屋面防水层事项征求全体业主意见。"
          "预算约1,860万元，表决期间可在线投票或向业委会提交纸质表决票。")


# --- loading ------------------------------------------------------------------------------------------------

class Loader:
    """Bulk rows into a table: COPY … FROM STDIN through psycopg on PostgreSQL, executemany of 20,000-row
    batches on SQLite; both inside the session's transaction. Rows are tuples in `columns` order, with
    explicit ids (the sequences are moved past them afterwards, see `fix_sequences`)."""

    def __init__(self):
        self.pg = db.engine.dialect.name == "postgresql"
        self.tables = set()

    def load(self, model, columns, rows) -> int:
        from portal.clock import UTCDateTime
        table = model.__table__
        self.tables.add(table.name)
        n = 0
        if self.pg:
            # What UTCDateTime does on the way in (aware UTC → naive UTC), since COPY bypasses SQLAlchemy.
            stamps = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, UTCDateTime)]
            raw = db.session.connection().connection.driver_connection
            names = ", ".join(f'"{c}"' for c in columns)
            with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    if stamps:
                        row = list(row)
                        for i in stamps:
                            if row[i] is not None:
                                row[i] = row[i].replace(tzinfo=None)
                    copy.write_row(row)
                    n += 1
            return n
        statement = insert(table)
        batch = []
        for row in rows:
            batch.append(dict(zip(columns, row)))
            if len(batch) == 20_000:
                db.session.execute(statement, batch)
                n += len(batch)
                batch = []
        if batch:
            db.session.execute(statement, batch)
            n += len(batch)
        return n

    def fix_sequences(self):
        if not self.pg:
            return
        for name in sorted(self.tables):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                                    f"(SELECT coalesce(max(id), 0) + 1 FROM \"{name}\"), false)"))


def person_name(rng):
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def build_register(n_units, rng, loader):
    """One community of n_units units (1,000 per building) and its register of owners. Shares of the units:
    1 % the developer's (unsold, one owner, cast by its representative), 15 % co-owned (two co-owners, one
    in ten three), ~7 % held by buyers of 2–4 units, the rest single owners; 5 % of units changed hands in
    2020 (the seller's ownership ended: not an owner now); 92 % of owners linked to an account. Returns
    (community, homeowners' committee chair id, proposal, counts)."""
    from portal.auth.models import User
    from portal.auth.services import hash_password
    from portal.clock import utcnow
    from portal.committees.models import Organization, OrgMembership
    from portal.places.models import Building, Community, Estate, Household, Owner, OwnerPhone, Ownership, SubDistrict
    from portal.proposals.models import Proposal

    now = utcnow()
    sd = SubDistrict(name="望京街道", slug="bench-sd")
    community = Community(sub_district=sd, name="望京花园", slug="bench")
    db.session.add_all([sd, community])
    db.session.flush()
    estate = Estate(community=community, name="望京花园")
    db.session.add(estate)
    db.session.flush()
    hoc = Organization(kind="homeowners_committee", community=community, estate=estate, name="望京花园业主委员会")
    rc = Organization(kind="residents_committee", community=community, name="望京花园社区居委会")
    db.session.add_all([hoc, rc])
    db.session.flush()

    n_buildings = -(-n_units // UNITS_PER_BUILDING)
    loader.load(Building, ["id", "community_id", "estate_id", "code", "name"],
                ((b + 1, community.id, estate.id, str(b + 1), f"{b + 1}号楼") for b in range(n_buildings)))
    areas = [Decimal(rng.randint(4500, 16000)).scaleb(-2) for _ in range(n_units)]  # 45.00–160.00 m²

    def unit_row(i):
        k = i % UNITS_PER_BUILDING
        return (i + 1, i // UNITS_PER_BUILDING + 1, str(k // 200 + 1), f"{k % 200 // 8 + 1:02d}{k % 8 + 1:02d}",
                areas[i])
    loader.load(Household, ["id", "building_id", "entrance", "room", "area_m2"], map(unit_row, range(n_units)))

    # Who holds what. Unit indexes; household id = index + 1.
    n_dev = max(1, n_units // 100)
    developer_units = list(range(n_units - n_dev, n_units))  # the last building's tail: unsold
    sold = list(range(n_units - n_dev))
    rng.shuffle(sold)
    n_co = len(sold) * 15 // 100
    co_units, rest = sold[:n_co], sold[n_co:]
    holdings = []  # (unit indexes) per person-owner group; co-owned units are handled apart
    target_multi = len(rest) * 7 // 100
    i = 0
    while i < target_multi:
        k = rng.randint(2, 4)
        holdings.append(rest[i:i + k])
        i += k
    holdings.extend([u] for u in rest[i:])

    password_hash = hash_password(PASSWORD)
    users, owners, ownerships, phones = [], [], [], []
    state = {"user": 0, "owner": 0, "ownership": 0, "phone": 0}

    def new_user(name):
        state["user"] += 1
        uid = state["user"]
        users.append((uid, name, f"owner{uid}@bench.test", password_hash, False, False, True, False, now, now, now))
        return uid

    def new_owner(name, *, developer=False, linked=True, user_id=None):
        state["owner"] += 1
        state["phone"] += 1
        if linked and user_id is None:
            user_id = new_user(name)
        owners.append((state["owner"], community.id, name, "developer" if developer else "person",
                       developer, user_id, committee[0] if user_id else None, now if user_id else None))
        if not developer:
            phones.append((state["phone"], state["owner"], f"13{state['phone']:09d}", 0))
        return state["owner"]

    def hold(unit, owner_id, start=date(2020, 6, 1), end=None):
        state["ownership"] += 1
        ownerships.append((state["ownership"], unit + 1, owner_id, start, end))

    committee = [new_user(f"业委会委员 {person_name(rng)}") for _ in range(5)]
    representative = new_user("开发商代表 周涛")
    developer = new_owner("北京望京房地产开发有限公司", developer=True, user_id=representative)
    for unit in developer_units:
        hold(unit, developer, start=date(2018, 1, 1))
    for unit in co_units:
        for _ in range(3 if rng.random() < 0.1 else 2):
            hold(unit, new_owner(person_name(rng), linked=rng.random() < 0.92))
    for group in holdings:
        owner_id = new_owner(person_name(rng), linked=rng.random() < 0.92)
        for unit in group:
            hold(unit, owner_id)
    for unit in rng.sample(sold, len(sold) * 5 // 100):  # sold on in 2020: the seller is no longer an owner
        hold(unit, new_owner(person_name(rng), linked=rng.random() < 0.5), start=date(2016, 3, 1),
             end=date(2020, 6, 1))

    loader.load(User, ["id", "display_name", "email", "password_hash", "large_text", "is_admin", "is_active_account",
                       "consent_in_person", "consented_at", "created_at", "password_changed_at"], users)
    loader.load(Owner, ["id", "community_id", "name", "kind", "is_developer", "user_id", "confirmed_by_id",
                        "confirmed_at"], owners)
    loader.load(OwnerPhone, ["id", "owner_id", "phone", "position"], phones)
    loader.load(Ownership, ["id", "household_id", "owner_id", "start_date", "end_date"], ownerships)
    loader.fix_sequences()
    for n, uid in enumerate(committee):
        db.session.add(OrgMembership(user_id=uid, organization_id=hoc.id, title="chair" if n == 0 else "member",
                                     start_date=date(2023, 1, 1)))
    published = now - timedelta(days=60)
    proposal = Proposal(community_id=community.id, author_id=committee[1], title=QUESTION[2:-1],
                        summary="屋面渗漏严重，建议使用专项维修资金统一更换防水层。", body="", body_html="",
                        category="maintenance_fund", status="deliberation", support_threshold=10,
                        support_deadline=published + timedelta(days=30), created_at=published, updated_at=published,
                        published_at=published, deliberation_at=published + timedelta(days=3))
    db.session.add(proposal)
    db.session.commit()
    counts = {"units": n_units, "buildings": n_buildings, "developer units": n_dev, "co-owned units": n_co,
              "buyers of 2–4 units": sum(1 for g in holdings if len(g) > 1), "owners": len(owners),
              "accounts": len(users)}
    return community, committee, proposal, counts


# --- opening through the real code --------------------------------------------------------------------------

class Stopwatch:
    """Wraps functions (module attributes) to add up the time spent in them."""

    def __init__(self):
        self.spent = {}
        self.restore = []

    def wrap(self, module, name, label):
        original = getattr(module, name, None)
        if original is None or getattr(original, "_stopwatch", False):
            return

        @functools.wraps(original)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + time.perf_counter() - start
        timed._stopwatch = True
        setattr(module, name, timed)
        self.restore.append((module, name, original))

    def unwrap(self):
        for module, name, original in reversed(self.restore):
            setattr(module, name, original)
        self.restore = []


def watch_opening(stopwatch):
    """Time the electorate freeze and the notifications, wherever services imported them from."""
    import portal.notifications.services as notifications
    from portal.votes import electorate, services
    for module in (electorate, services):
        stopwatch.wrap(module, "freeze", "freeze")
    for module in (notifications, services):
        stopwatch.wrap(module, "notify", "notify")
    stopwatch.wrap(services, "_notify_all", "notify")  # one INSERT … SELECT for the whole electorate


def open_ballot(chair_id, proposal, now, counter):
    """Announce the ballot 16 days ago (15 days' notice), opening a day ago, closing in 14 days; then open it
    (freeze) with apply_due at `now`. Returns (ballot, timings)."""
    from portal.auth.models import User
    from portal.votes import services
    chair = db.session.get(User, chair_id)
    stopwatch = Stopwatch()
    watch_opening(stopwatch)
    timings = {}

    def step(label, fn):
        """fn() and a commit, timed (seconds, statements, time inside the watched functions)."""
        stopwatch.spent.clear()
        times, statements, result = timed_runs(lambda: (fn(), db.session.commit())[0], 1, counter)
        timings[label] = (times[0] / 1000, statements[0], dict(stopwatch.spent))
        return result

    # A scoped electorate (issue #19): the owners of every building but the last, listed one by one, so the
    # freeze reads the scope rows for every unit.
    from portal.places.models import Building
    buildings = db.session.scalars(db.select(Building.id).where(Building.community_id == proposal.community_id)
                                   .order_by(Building.id)).all()
    listed = buildings[:-1] or buildings
    ballot = step("announce (open_ballot + commit)", lambda: services.open_ballot(
        chair, proposal, method="owners", question=QUESTION, matter=5, notice=NOTICE,
        scope_kind="buildings", scope_buildings=listed,
        opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=14), now=now - timedelta(days=16)))
    ballot_id = ballot.id
    step("open (apply_due: freeze + notify + commit)", lambda: services.apply_due(ballot, now=now))
    stopwatch.unwrap()
    db.session.expire_all()
    from portal.votes.models import Ballot
    ballot = db.session.get(Ballot, ballot_id)
    assert ballot.status == "open", ballot.status
    return ballot, timings


# --- the log -----------------------------------------------------------------------------------------------

def load_log(ballot, n_log, now, rng, loader):
    """n_log log entries over the last day: every voting voter casts once (96 % of the voters who can cast
    online; half of those who cannot vote on paper, entered by a committee member) and the remaining entries
    are changes of mind by online voters. A valid hash chain (log.entry_hash), the live votes (the latest entry
    per voter) and the ballot's head/length. Returns (counts, seconds spent hashing)."""
    from portal.votes import log
    from portal.votes.models import Ballot, BallotCaster, BallotLogEntry, BallotVote, BallotVoter

    voters = {v.id: (v.headcount, v.area_cm) for v in db.session.execute(
        select(BallotVoter.id, BallotVoter.headcount, BallotVoter.area_cm).where(BallotVoter.ballot_id == ballot.id))}
    casters = dict(db.session.execute(
        select(BallotCaster.voter_id, func.min(BallotCaster.user_id))
        .where(BallotCaster.ballot_id == ballot.id).group_by(BallotCaster.voter_id)).all())
    paper_clerk = ballot.opened_by_id
    options = {o.code: o.id for o in ballot.options}
    option_ids = list(options.values())
    online = sorted(v for v in voters if v in casters)
    offline = sorted(v for v in voters if v not in casters)
    voting = rng.sample(online, len(online) * 96 // 100)
    paper = rng.sample(offline, len(offline) // 2)
    extra = max(0, n_log - len(voting) - len(paper))
    order = [(v, False) for v in voting] + [(rng.choice(voting), False) for _ in range(extra)] + \
            [(v, True) for v in paper]
    rng.shuffle(order)
    order = order[:n_log]
    final = {v: options[rng.choices(("yes", "no", "abstain"), weights=(70, 20, 10))[0]] for v in voters}
    remaining = {}
    for v, _ in order:
        remaining[v] = remaining.get(v, 0) + 1

    first_id = (db.session.scalar(select(func.max(BallotLogEntry.id))) or 0) + 1
    start_at = now - timedelta(days=1)
    step = timedelta(days=1) / (len(order) + 1)
    live = {}
    head = {"hash": ballot.log_head, "hashing": 0.0}

    def entries():
        prev = head["hash"]
        for seq, (voter_id, is_paper) in enumerate(order, start=1):
            remaining[voter_id] -= 1
            option_id = final[voter_id] if remaining[voter_id] == 0 else rng.choice(option_ids)
            headcount, area_cm = voters[voter_id]
            cast_by = paper_clerk if is_paper else casters[voter_id]
            at = start_at + step * seq
            receipt = log.new_receipt()
            fields = {"ballot_id": ballot.id, "seq": seq, "voter_id": voter_id, "option_id": option_id,
                      "headcount": headcount, "area_cm": area_cm, "cast_by_id": cast_by, "is_paper": is_paper,
                      "at": at, "receipt": receipt}
            t = time.perf_counter()
            digest = log.entry_hash(prev, fields)
            head["hashing"] += time.perf_counter() - t
            entry_id = first_id + seq - 1
            live[voter_id] = (entry_id, option_id, cast_by, is_paper, at)
            yield (entry_id, ballot.id, seq, voter_id, option_id, headcount, area_cm, cast_by, is_paper, at, receipt,
                   prev, digest)
            prev = digest
        head["hash"] = prev

    loader.load(BallotLogEntry, ["id", "ballot_id", "seq", "voter_id", "option_id", "headcount", "area_cm",
                                 "cast_by_id", "is_paper", "at", "receipt", "prev_hash", "hash"], entries())
    first_vote = (db.session.scalar(select(func.max(BallotVote.id))) or 0) + 1
    loader.load(BallotVote, ["id", "ballot_id", "voter_id", "option_id", "entry_id", "cast_by_id", "is_paper",
                             "cast_at"],
                ((first_vote + n, ballot.id, voter_id, option_id, entry_id, cast_by, is_paper, at)
                 for n, (voter_id, (entry_id, option_id, cast_by, is_paper, at)) in enumerate(sorted(live.items()))))
    loader.fix_sequences()
    db.session.execute(update(Ballot).where(Ballot.id == ballot.id).values(log_head=head["hash"],
                                                                           log_length=len(order)))
    # The live votes went in around services.cast: the ballot's running totals are rebuilt from them, as
    # the migration's backfill does.
    from portal.votes import services
    start = time.perf_counter()
    services.rebuild_running_totals(ballot)
    head["totals"] = time.perf_counter() - start
    db.session.commit()
    counts = {"voters": len(voters), "can cast online": len(online), "log entries": len(order),
              "live votes": len(live), "paper votes": len(paper)}
    return counts, head["hashing"], head["totals"]


# --- measuring ---------------------------------------------------------------------------------------------

def timed_runs(fn, n, counter=None):
    """(ms per run, statements per run, last result)."""
    times, statements, result = [], [], None
    for _ in range(n):
        if counter is not None:
            counter.count, counter.statements = 0, []
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
        statements.append(counter.count if counter is not None else 0)
    return times, statements, result


def timed_request(send, counter):
    """(wall ms, CPU ms of this process, statements, response) of one request."""
    counter.count, counter.statements = 0, []
    start, start_cpu = time.perf_counter(), time.process_time()
    response = send()
    return ((time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000, counter.count,
            response)


def row(label, times, statements=None, note=""):
    sql = statement_range(statements) if statements else ""
    print(f"{label:<46} {statistics.median(times):>10.1f} {percentile(times, 95):>8.1f} {max(times):>8.1f} "
          f"{sql:>6}  {note}")


def pick_casters(ballot, n, rng):
    """n (user id, voter id) pairs of online voters (a mix of first casts and changes)."""
    from portal.votes.models import BallotCaster, BallotVote
    pairs = db.session.execute(
        select(BallotCaster.user_id, BallotCaster.voter_id, BallotVote.id.is_not(None))
        .outerjoin(BallotVote, (BallotVote.voter_id == BallotCaster.voter_id) & (BallotVote.ballot_id == ballot.id))
        .where(BallotCaster.ballot_id == ballot.id, BallotVote.is_paper.is_not(True))
        .order_by(BallotCaster.id).limit(200_000)).all()
    # Users who can cast exactly one voter: the page then needs no "which unit?" choice.
    seen = {}
    for user_id, voter_id, voted in pairs:
        seen.setdefault(user_id, []).append((voter_id, voted))
    single = [(u, v[0][0], v[0][1]) for u, v in seen.items() if len(v) == 1]
    return rng.sample(single, min(n, len(single)))


def bench_service_casts(ballot, n, rng, counter):
    """services.cast + commit, as the view would run it, for n different voters."""
    from portal.auth.models import User
    from portal.votes import services
    from portal.votes.models import Ballot, BallotVoter
    ballot_id = ballot.id
    option_ids = [o.id for o in ballot.options]
    times, commits, statements, changed = [], [], [], 0
    for user_id, voter_id, voted in pick_casters(ballot, n, rng):
        user = db.session.get(User, user_id)
        voter = db.session.get(BallotVoter, voter_id)
        ballot = db.session.get(Ballot, ballot_id)
        counter.count, counter.statements = 0, []
        start = time.perf_counter()
        entry = services.cast(user, ballot, rng.choice(option_ids), voter=voter)
        receipt = entry.receipt
        cast_done = time.perf_counter()
        db.session.commit()
        times.append((time.perf_counter() - start) * 1000)
        commits.append((time.perf_counter() - cast_done) * 1000)
        statements.append(counter.count)
        changed += bool(voted)
        assert receipt
    return times, commits, statements, changed


def sample_receipts(ballot, n, rng):
    """Iterators of receipts: counted (a voter's latest), replaced early (the voter changed later, far down
    the log), and unknown (well-formed, in no entry)."""
    from portal.votes import log
    from portal.votes.models import BallotLogEntry, BallotVote
    counted = list(db.session.scalars(select(BallotLogEntry.receipt).join(
        BallotVote, BallotVote.entry_id == BallotLogEntry.id).where(BallotVote.ballot_id == ballot.id)
        .order_by(BallotVote.id).limit(20 * n)))
    replaced = list(db.session.scalars(select(BallotLogEntry.receipt).outerjoin(
        BallotVote, BallotVote.entry_id == BallotLogEntry.id).where(
        BallotLogEntry.ballot_id == ballot.id, BallotLogEntry.seq <= 2000, BallotVote.id.is_(None))))
    return {"counted": iter(rng.sample(counted, min(n, len(counted))) * 2),
            "replaced (early)": iter(rng.sample(replaced, min(n, len(replaced))) * 2),
            "unknown": iter([log.new_receipt() for _ in range(n)])}


def bench_page_casts(app, ballot_id, slug, casters, option_ids, n_requests, rng, counter):
    """The ballot page and POST /c/<slug>/ballots/<id>/vote through the test client (without and with htmx),
    signed in as each of `casters` in turn. Run outside any app context of ours: each request gets its own,
    as in production."""
    from tests.csrf import TOKEN
    clients = []
    for user_id, voter_id, _ in casters:
        client = app.test_client()
        sign_in(client, f"owner{user_id}@bench.test")
        clients.append((client, voter_id))
    page = f"/c/{slug}/ballots/{ballot_id}"
    results = {"GET /c/<slug>/ballots/<id>": ([], [], []), "POST …/vote (no JS: 302)": ([], [], []),
               "POST …/vote (htmx: the vote block)": ([], [], [])}
    statuses = {}
    for client, _voter_id in clients:  # warm the templates and translations, as a running server has them
        client.get(page)
    for n in range(n_requests):
        client, voter_id = clients[n % len(clients)]
        wall, cpu, statements, response = timed_request(lambda: client.get(page), counter)
        for kept, value in zip(results["GET /c/<slug>/ballots/<id>"], (wall, cpu, statements)):
            kept.append(value)
        if response.status_code != 200:
            raise SystemExit(f"GET {page}: {response.status_code}\n{response.get_data(as_text=True)[:2000]}")
        token = TOKEN.search(response.get_data(as_text=True)).group(1)
        for label, headers in (("POST …/vote (no JS: 302)", {}), ("POST …/vote (htmx: the vote block)",
                                                                  {"HX-Request": "true"})):
            data = {"csrf_token": token, "voter_id": voter_id, "option_id": rng.choice(option_ids)}
            wall, cpu, statements, response = timed_request(
                lambda: client.post(f"{page}/vote", data=data, headers=headers), counter)
            for kept, value in zip(results[label], (wall, cpu, statements)):
                kept.append(value)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            refused = response.status_code == 200 and b"Your vote is counted" not in response.data
            if response.status_code >= 400 or refused:
                raise SystemExit(f"POST {page}/vote: {response.status_code}\n{response.get_data(as_text=True)[:3000]}")
    return results, statuses


def profile_page(app, path, login, label, n_requests, top=25):
    """cProfile `n_requests` GETs of `path` signed in as `login`, and print the functions that take the most
    time of their own and in total (what to cut)."""
    import cProfile
    import pstats
    client = app.test_client()
    sign_in(client, login)
    client.get(path)
    profiler = cProfile.Profile()
    start = time.process_time()
    profiler.enable()
    for _ in range(n_requests):
        client.get(path)
    profiler.disable()
    cpu = (time.process_time() - start) * 1000 / n_requests
    print(f"\n--- profile of {label}: {n_requests} requests, {cpu:.1f} ms CPU each (profiled, so slower)")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def explain(statements, label):
    """EXPLAIN ANALYZE (PostgreSQL) or EXPLAIN QUERY PLAN (SQLite) of the SELECTs a call sent."""
    pg = db.engine.dialect.name == "postgresql"
    print(f"\n--- {label}: plans")
    with db.engine.connect() as conn:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT") or "FOR UPDATE" in statement.upper():
                continue
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
            print("  " + " ".join(statement.split())[:400])
            try:
                plan = conn.exec_driver_sql(prefix + statement, parameters).all()
            except Exception as error:  # a statement that cannot be explained as sent: say so and go on
                print(f"    (not explained: {error.__class__.__name__})")
                conn.rollback()
                continue
            for line in plan:
                print("    " + " | ".join(str(c) for c in line))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the sizes (300,000 units, 1,000,000 log entries) by this")
    parser.add_argument("--units", type=int, default=300_000)
    parser.add_argument("--log", type=int, default=1_000_000)
    parser.add_argument("--tallies", type=int, default=9, help="runs of the full tally")
    parser.add_argument("--casts", type=int, default=200, help="casts through services.cast")
    parser.add_argument("--requests", type=int, default=60, help="page loads and casts through the pages")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--explain", action="store_true", help="print the plans of the tally's and a cast's queries")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="cProfile N requests of the open and of the closed ballot page; print where they go")
    args = parser.parse_args(argv)
    n_units, n_log = round(args.units * args.scale), round(args.log * args.scale)

    database = Database(parser, args)
    app = database.app
    try:
        from portal.votes import log, services  # noqa: F401
    except ImportError as error:
        raise SystemExit(f"portal.votes services or log not built yet ({error})") from None
    from portal.clock import utcnow
    from portal.votes.models import Ballot
    rng = random.Random(args.seed)
    with app.app_context():
        database.recreate()
        counter = StatementCounter(db.engine)
        loader = Loader()
        how = "COPY" if loader.pg else "executemany"
        start = time.perf_counter()
        community, committee, proposal, counts = build_register(n_units, rng, loader)
        analyze()
        print(f"register ({how}) in {time.perf_counter() - start:.1f} s: "
              + ", ".join(f"{v:,} {k}" for k, v in counts.items()))

        now = utcnow()
        ballot, timings = open_ballot(committee[0], proposal, now, counter)
        print("\nopening through portal.votes.services (the real code):")
        for label, (seconds, statements, inside) in timings.items():
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in inside.items())
            print(f"  {label:<44} {seconds:>7.2f} s  {statements:>6} statements  ({parts})")

        start = time.perf_counter()
        log_counts, hashing, rebuilding = load_log(ballot, n_log, now, rng, loader)
        analyze()
        print(f"\nlog ({how}) in {time.perf_counter() - start:.1f} s (hash chain {hashing:.1f} s, running totals "
              f"rebuilt in {rebuilding:.2f} s): " + ", ".join(f"{v:,} {k}" for k, v in log_counts.items()))

        db.session.expire_all()
        ballot_id, slug = ballot.id, community.slug
        print(f"\n{'':<46} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'SQL':>6}")
        times, statements, figures = timed_runs(lambda: services.tally(ballot), args.tallies, counter)
        tally_statements = list(counter.statements)
        tally_median = statistics.median(times)
        row(f"services.tally ({args.tallies} runs)", times, statements,
            f"{figures.voted_count:,}/{figures.electorate_count:,} voted")
        times, statements, _ = timed_runs(lambda: services.participation(ballot), args.tallies, counter)
        row("services.participation (every ballot page)", times, statements, "the ballot row's running totals")
        times, statements, running = timed_runs(lambda: services.running_figures(ballot), args.tallies, counter)
        running_statements = list(counter.statements)
        row("services.running_figures (open page, vote block)", times, statements,
            f"= the full tally: {running == figures}")
        if running != figures:
            raise SystemExit("the running totals differ from the full tally after loading")

        times, commits, statements, changed = bench_service_casts(ballot, args.casts, rng, counter)
        cast_median = statistics.median(times)
        cast_statements = list(counter.statements)
        row(f"services.cast + commit ({len(times)} voters)", times, statements, f"{changed} changes of mind")
        row("  of which the COMMIT", commits)

        ballot = db.session.get(Ballot, ballot_id)
        totals_agree = services.running_figures(ballot) == services.tally(ballot)
        print(f"{'  running totals = full tally after the casts':<46} {str(totals_agree):>10}")
        if not totals_agree:
            raise SystemExit("the running totals differ from the full tally after the casts")
        for label, receipts in sample_receipts(ballot, 50, rng).items():
            times, statements, _ = timed_runs(lambda: services.check_receipt(ballot, next(receipts)), 50, counter)
            row(f"services.check_receipt, {label}", times, statements)
        page_casters = pick_casters(ballot, 20, rng)
        option_ids = [o.id for o in ballot.options]
        committee_login = f"owner{committee[0]}@bench.test"
        db.session.remove()

    if views_built(app, "votes.detail", "votes.cast"):
        results, statuses = bench_page_casts(app, ballot_id, slug, page_casters, option_ids, args.requests, rng,
                                             counter)
        for label, (times, cpu, statements) in results.items():
            row(label, times, statements, f"CPU median {statistics.median(cpu):.1f} ms (p95 {percentile(cpu, 95):.1f})"
                + (f"; responses {statuses}" if label.startswith("POST …/vote (htmx") else ""))
        if args.profile:
            profile_page(app, f"/c/{slug}/ballots/{ballot_id}", f"owner{page_casters[0][0]}@bench.test",
                         "the open ballot page", args.profile)
    else:
        print("pages: votes.detail / votes.cast not built yet")

    with app.app_context():
        ballot = db.session.get(Ballot, ballot_id)
        times, statements, report = timed_runs(lambda: services.verify(ballot), 1, counter)
        row(f"verify the log ({ballot.log_length:,} entries)", times, statements, f"ok={report.ok}")

        stopwatch = Stopwatch()
        watch_opening(stopwatch)
        times, statements, _ = timed_runs(lambda: (services.apply_due(ballot, now=ballot.closes_at
                                                                       + timedelta(minutes=1)), db.session.commit()),
                                          1, counter)
        stopwatch.unwrap()
        row("close at the close time (apply_due + commit)", times, statements,
            f"{ballot.result}; " + ", ".join(f"{k} {v:.2f} s" for k, v in stopwatch.spent.items()))
        db.session.remove()
        ballot = db.session.get(Ballot, ballot_id)
        times, statements, report = timed_runs(lambda: services.verify(ballot), 1, counter)
        row("verify the log after close", times, statements, f"ok={report.ok}: {report.message[:60]}")
        db.session.remove()

    if views_built(app, "votes.log"):
        from _common import time_pages
        pages = {"GET …/log (published, first page)": lambda: f"/c/{slug}/ballots/{ballot_id}/log",
                 "GET …/log?page=5000 (a deep page)": lambda: f"/c/{slug}/ballots/{ballot_id}/log?page=5000",
                 "GET /c/<slug>/ballots/<id> (closed)": lambda: f"/c/{slug}/ballots/{ballot_id}"}
        for label, (t, cpu, s, size) in time_pages(app, pages, committee_login, 20).items():
            row(label, t, s, f"{size // 1024} KB; CPU median {statistics.median(cpu):.1f} ms")
        if args.profile:
            profile_page(app, f"/c/{slug}/ballots/{ballot_id}", committee_login, "the closed ballot page",
                         args.profile)

    print(f"\nfull tally median {tally_median:.0f} ms: {'under' if tally_median < 1000 else 'OVER'} the 1 s target; "
          f"services.cast median {cast_median:.1f} ms: {'under' if cast_median < 20 else 'OVER'} the 20 ms target")
    if args.explain:
        with app.app_context():
            explain(tally_statements, "services.tally")
            explain(running_statements, "services.running_figures")
            explain(cast_statements, "services.cast (the last one)")
    database.finish()


if __name__ == "__main__":
    main()
