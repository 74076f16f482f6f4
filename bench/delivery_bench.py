"""What production serving saves on the wire and per request: compressed bytes of key pages and of a first
load (page and every static file it links), the cost of compressing, revalidation of public pages (304), and
the round trip the dropped pre-ping saved.

    .venv/bin/python bench/delivery_bench.py
    .venv/bin/python bench/delivery_bench.py --database-url postgresql://postgres@127.0.0.1:5432/bench_platform

It seeds the demo (`seed-demo`) into a throwaway database (every table of --database-url is dropped) and
measures through `app.test_client()`: no network, so the times are the app's own."""
import argparse
import gzip
import re
import statistics
import time

import _common  # noqa: F401  (first: project path and a throwaway instance folder)
import brotli
from sqlalchemy import create_engine, text

from portal.extensions import db

STATIC = re.compile(r'(?:href|src)="(/static/[^"]+)"')
PAGES = ("/", "/c/{slug}", "/c/{slug}/issues", "/c/{slug}/issues?sort=due", "/c/{slug}/proposals",
         "/c/{slug}/ballots", "/c/{slug}/actions", "/c/{slug}/notices", "/c/{slug}/calendar", "/login")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _common.add_database_arguments(parser)
    parser.add_argument("--requests", type=int, default=50, help="requests per page for the timings")
    args = parser.parse_args()
    database = _common.Database(parser, args)
    app = database.app
    with app.app_context():
        database.recreate()
        result = app.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
        from portal.places.models import Community
        slug = db.session.scalars(db.select(Community.slug).order_by(Community.id)).first()
    client = app.test_client()
    print(f"\npages of the demo community '{slug}', visitor, {args.requests} requests each "
          "(times: median ms per request through the test client)")
    print(f"{'page':34} {'status':>6} {'identity':>9} {'gzip':>7} {'br':>7} {'1st load br':>11} "
          f"{'ms plain':>8} {'ms br':>6} {'ms 304':>7} {'cache'}")
    for template in PAGES:
        path = template.format(slug=slug)
        plain = client.get(path, headers={"Accept-Encoding": "identity"})
        zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
        squeezed = client.get(path, headers={"Accept-Encoding": "br, gzip"})
        assert gzip.decompress(zipped.data) == plain.data or plain.status_code != 200
        assert brotli.decompress(squeezed.data) == plain.data or plain.status_code != 200
        first_load = len(squeezed.data) + sum(
            len(client.get(url, headers={"Accept-Encoding": "br, gzip"}).data)
            for url in set(STATIC.findall(plain.get_data(as_text=True))))
        etag = plain.headers.get("ETag")
        ms = {}
        for label, headers in (("plain", {"Accept-Encoding": "identity"}), ("br", {"Accept-Encoding": "br"}),
                               ("304", {"Accept-Encoding": "br", "If-None-Match": etag or ""})):
            times = []
            for _ in range(args.requests):
                start = time.perf_counter()
                client.get(path, headers=headers)
                times.append((time.perf_counter() - start) * 1000)
            ms[label] = statistics.median(times)
        print(f"{path[:34]:34} {plain.status_code:>6} {len(plain.data):>9,} {len(zipped.data):>7,} "
              f"{len(squeezed.data):>7,} {first_load:>11,} {ms['plain']:>8.2f} {ms['br']:>6.2f} "
              f"{ms['304'] if etag else float('nan'):>7.2f} {plain.headers.get('Cache-Control')}")

    print("\nstatic files (hashed names, first load only; later loads are served from the browser's cache)")
    page = client.get("/").get_data(as_text=True)
    for url in sorted(set(STATIC.findall(page))):
        raw = client.get(url, headers={"Accept-Encoding": "identity"})
        br = client.get(url, headers={"Accept-Encoding": "br"})
        print(f"  {url:52} {len(raw.data):>8,} → br {len(br.data):>7,}   {raw.headers['Cache-Control']}")

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    print(f"\nthe pre-ping round trip saved per request ({url.split(':')[0]}):")
    for pre_ping in (True, False):
        engine = create_engine(url, pool_pre_ping=pre_ping)
        times = []
        for _ in range(args.requests * 10):
            start = time.perf_counter()
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            times.append((time.perf_counter() - start) * 1000)
        engine.dispose()
        print(f"  checkout + one statement, pool_pre_ping={pre_ping!s:5}: median {statistics.median(times):.3f} ms")
    database.finish()


if __name__ == "__main__":
    main()
