"""What the test suite's fixtures cost: a world built through the ORM against the same world restored by
tests/conftest.py's reused_world, and (PostgreSQL) a commit with and without waiting for the disk.

    .venv/bin/python bench/suite_bench.py
    .venv/bin/python bench/suite_bench.py --database-url postgresql://postgres@127.0.0.1:5432/bench_suite

Prints the median wall and CPU milliseconds per world (each followed by the suite's per-test cleaning, not
counted) and per commit."""
import argparse
import statistics
import time

import _common  # noqa: F401  (sys.path, instance folder)
from _common import Database, add_database_arguments
from sqlalchemy import text

from portal.extensions import db


def clean(written) -> None:
    """What tests/conftest.py's _clean_database does after each test."""
    db.session.rollback()
    for table in reversed(db.metadata.sorted_tables):
        if table.name in written:
            db.session.execute(table.delete())
    db.session.commit()
    db.session.remove()
    written.clear()


def timed(make, rounds: int, written) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        make()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        clean(written)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def worlds(rounds: int) -> None:
    from tests import conftest
    from tests.issues.conftest import build_issues_world
    from tests.residents.conftest import build_committed_world
    from tests.votes.conftest import build_votes_world
    print(f"{'world':<12}{'built ms':>10}{'cpu':>8}{'restored ms':>14}{'cpu':>8}")
    for name, build in (("residents", build_committed_world), ("issues", build_issues_world),
                        ("votes", build_votes_world)):
        built = timed(build, rounds, conftest._written_tables)
        conftest.reused_world(build)  # the first one builds and keeps it
        clean(conftest._written_tables)
        restored = timed(lambda b=build: conftest.reused_world(b), rounds, conftest._written_tables)
        print(f"{name:<12}{built[0]:>10.1f}{built[1]:>8.1f}{restored[0]:>14.1f}{restored[1]:>8.1f}")


def commits(count: int = 300) -> None:
    print(f"\n{'synchronous_commit':<20}{'ms per one-row commit':>24}")
    with db.engine.connect() as conn:
        conn.execute(text("CREATE TEMPORARY TABLE bench_commit (x integer)"))
        conn.commit()
        for mode in ("on", "off", "on", "off"):
            conn.execute(text(f"SET synchronous_commit = {mode}"))
            start = time.perf_counter()
            for n in range(count):
                conn.execute(text("INSERT INTO bench_commit VALUES (:n)"), {"n": n})
                conn.commit()
            print(f"{mode:<20}{(time.perf_counter() - start) / count * 1000:>24.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    database = Database(parser, args)
    try:
        with database.app.app_context():
            database.recreate()
            worlds(args.rounds)
            if db.engine.dialect.name == "postgresql":
                commits()
    finally:
        database.finish()


if __name__ == "__main__":
    main()
