"""What keeping pages under a community's version costs the writers (portal/versions.py): the same writes
with the version's session hooks and without them, interleaved.

    .venv/bin/python bench/versions_bench.py --database-url postgresql://postgres@127.0.0.1:5432/bench_versions

It DROPS AND RECREATES every table of the database it is given (a temporary SQLite file without
--database-url), makes one community with `--users` residents and `--issues` issues, then runs `--writes`
transactions of each kind, alternating blocks with the hooks on and off: a resident supporting an issue
(services.support_issue, then commit), an issue's title changed and a building renamed (ORM, then commit). It
prints, per kind and mode, the median and p95 milliseconds of a transaction (wall time, commit included) and
the SQL statements it sent."""
import argparse
import random
import statistics
import time
from datetime import timedelta

from _common import Database, StatementCounter, add_database_arguments, community_with_residents, percentile
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal import versions
from portal.clock import utcnow
from portal.extensions import db

HOOKS = (("after_flush", versions._after_flush), ("do_orm_execute", versions._on_execute),
         ("before_commit", versions._before_commit), ("after_transaction_end", versions._after_transaction_end))


def hooks(on: bool) -> None:
    for name, fn in HOOKS:
        if on and not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
        elif not on and event.contains(Session, name, fn):
            event.remove(Session, name, fn)


def build(n_users, n_issues):
    from portal.auth.models import User
    from portal.issues import services
    now = utcnow()
    community, buildings, user_ids = community_with_residents(n_users, now)
    categories = services.ensure_default_categories(community)
    db.session.commit()
    users = db.session.scalars(db.select(User).where(User.id.in_(user_ids)).order_by(User.id)).all()
    issues = [services.report_issue(users[n % len(users)], community, category=categories[n % len(categories)],
                                    title=f"Problem number {n}", description="Bench.",
                                    now=now - timedelta(minutes=n)) for n in range(n_issues)]
    db.session.commit()
    return community, buildings, users, issues


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--writes", type=int, default=200, help="transactions of each kind and mode")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    database = Database(parser, args)
    rng = random.Random(args.seed)
    with database.app.app_context():
        database.recreate()
        community, buildings, users, issues = build(args.users, args.issues)
        from portal.issues import services
        counter = StatementCounter(db.engine)
        people = iter(rng.sample(users, len(users)))
        supporters = []
        for _ in range(min(2 * args.writes, len(users))):
            person = next(people)
            supporters.append((person, rng.choice([i for i in issues if i.reporter_id != person.id])))
        kinds = {
            "support an issue": lambda i, on: services.support_issue(*supporters[2 * i + on]),
            "rename a building": lambda i, on: setattr(buildings[i % len(buildings)], "name", f"B{i}-{on}"),
            "change an issue's title": lambda i, on: setattr(issues[i % len(issues)], "title", f"Title {i} {on}"),
        }
        results = {}
        for label, write in kinds.items():
            for block in range(10):
                for on in (True, False) if block % 2 == 0 else (False, True):
                    hooks(on)
                    n = args.writes // 10
                    times, statements = results.setdefault((label, on), ([], []))
                    for i in range(block * n, block * n + n):
                        if label == "support an issue" and 2 * i + on >= len(supporters):
                            break
                        counter.count = 0
                        start = time.perf_counter()
                        write(i, on)
                        db.session.commit()
                        times.append((time.perf_counter() - start) * 1000)
                        statements.append(counter.count)
        hooks(True)
        print(f"\n{'write':<26}{'hooks':>7}{'n':>6}{'median ms':>11}{'p95 ms':>9}{'statements':>12}")
        for (label, on), (times, statements) in results.items():
            if not times:
                continue
            low, high = min(statements), max(statements)
            print(f"{label:<26}{'on' if on else 'off':>7}{len(times):>6}{statistics.median(times):>11.2f}"
                  f"{percentile(times, 95):>9.2f}{(str(low) if low == high else f'{low}-{high}'):>12}")
    database.finish()


if __name__ == "__main__":
    main()
