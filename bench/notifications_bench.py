"""How fast the notification sender delivers to a local SMTP server, and how the outbox behaves while the
server is down.

Run by hand, never by the test suite (see bench/README.md):

    .venv/bin/python bench/notifications_bench.py                      # a throwaway SQLite file
    .venv/bin/python bench/notifications_bench.py --database-url postgresql://postgres@127.0.0.1:5432/test_a
    .venv/bin/python bench/notifications_bench.py --messages 500        # quicker

It DROPS AND RECREATES every table of the database it is given. It starts aiosmtpd on a free loopback port,
bulk-writes N people with e-mail addresses and one "at once" notification each, and drains the outbox with
portal.notifications.sender.drain (the code `send-notifications`, `run-due` and the RQ worker run): real SMTP,
one message per notification, each composed in the recipient's language with text, HTML and unsubscribe
headers. Then, with the server stopped, it writes N more and drains (nothing is lost: how many stayed queued,
their attempts and next try), drains again before the backoff ends (nothing is tried), starts the server and
drains after the backoff: all delivered, counted at the server."""
import argparse
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import _common  # noqa: F401  (first: puts the project on sys.path, sets a throwaway instance folder)
from _common import Database, add_database_arguments, bulk
from aiosmtpd.controller import Controller
from flask_babel import lazy_gettext as _l

from portal.extensions import db

# 10:00 in Shanghai (the portal's default zone): outside quiet hours.
DAYTIME = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


class CountingHandler:
    def __init__(self, accepted, addresses_file):
        self.accepted = accepted
        self.addresses_file = addresses_file

    async def handle_DATA(self, server, session, envelope):
        with self.accepted.get_lock():
            self.accepted.value += 1
        with open(self.addresses_file, "a") as f:
            f.write("\n".join(envelope.rcpt_tos) + "\n")
        return "250 OK"


def _serve(port, accepted, addresses_file, ready, stop):
    controller = Controller(CountingHandler(accepted, addresses_file), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class SmtpServer:
    """aiosmtpd in a process of its own, as a real mail server would be (not competing for this one's GIL)."""

    def __init__(self, port, addresses_file):
        self.port, self.addresses_file = port, addresses_file
        self.accepted = multiprocessing.Value("i", 0)
        self.process = None

    def start(self):
        self.ready, self.stopping = multiprocessing.Event(), multiprocessing.Event()
        self.process = multiprocessing.Process(target=_serve, args=(self.port, self.accepted, self.addresses_file,
                                                                    self.ready, self.stopping))
        self.process.start()
        self.ready.wait(10)

    def stop(self):
        if self.process is not None:
            self.stopping.set()
            self.process.join(10)
            self.process = None

    def addresses(self) -> set[str]:
        with open(self.addresses_file) as f:
            return {line for line in f.read().split("\n") if line}


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_people_and_notifications(n, start, now):
    from portal.auth.models import User
    from portal.auth.services import hash_password
    from portal.notifications.models import Notification
    password_hash = hash_password("bench password 42")
    bulk(User, [{"display_name": f"Resident {i}", "email": f"resident{i}@bench.test", "password_hash": password_hash,
                 "locale": "zh" if i % 2 else "en", "consented_at": now, "created_at": now,
                 "password_changed_at": now} for i in range(start, start + n)])
    ids = list(db.session.scalars(db.select(User.id).where(User.email.like("resident%@bench.test"))
                                  .order_by(User.id)))[-n:]
    bulk(Notification, [{"recipient_id": uid, "event": "bench.issue_updated", "object_type": None, "object_id": None,
                         "payload": {"title": f"Broken lift {uid}"}, "created_at": now, "email_status": "pending",
                         "email_attempts": 0, "email_rejections": 0} for uid in ids])
    db.session.commit()
    return ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--messages", type=int, default=2000, help="notifications per phase (2,000)")
    args = parser.parse_args()
    database = Database(parser, args)
    app = database.app
    from portal.notifications import services
    from portal.notifications.models import Notification
    from portal.notifications.sender import drain
    services.register_event("bench.issue_updated", _l("Your issue %(title)s was updated."), group="my_issues")

    port = free_port()
    addresses_file = tempfile.NamedTemporaryFile(prefix="yishi-bench-smtp-", delete=False).name
    server = SmtpServer(port, addresses_file)
    server.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    n = args.messages
    try:
        with app.app_context():
            database.recreate()
            write_people_and_notifications(n, 0, DAYTIME)
            print(f"\n1. server up: {n} people with e-mail, one notification each")
            start, cpu = time.perf_counter(), time.process_time()
            result = drain(DAYTIME)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            print(f"   drained: sent {result.sent}, accepted by the server {server.accepted.value}, "
                  f"in {elapsed:.2f} s ({result.sent / elapsed:.0f} messages/s; CPU {cpu:.2f} s)")

            print(f"\n2. server down: {n} more notifications")
            server.stop()
            write_people_and_notifications(n, n, DAYTIME)
            down_at = DAYTIME + timedelta(minutes=5)
            start = time.perf_counter()
            result = drain(down_at)
            elapsed = time.perf_counter() - start
            waiting = db.session.scalars(db.select(Notification).where(Notification.email_status == "pending")).all()
            attempts = Counter(r.email_attempts for r in waiting)
            next_try = Counter(r.next_attempt_at - down_at for r in waiting)
            print(f"   drained in {elapsed:.2f} s: sent {result.sent}, retrying {result.retrying}, "
                  f"failed {result.failed}; still queued {len(waiting)}")
            print(f"   attempts: {dict(attempts)}; next try in: "
                  + ", ".join(f"{delta} ({count})" for delta, count in next_try.items()))
            again = drain(down_at + timedelta(seconds=30))
            print(f"   drained again 30 s later: tried {again.sent + again.retrying} (not due yet)")
            later = drain(down_at + timedelta(minutes=1))
            waiting = db.session.scalars(db.select(Notification).where(Notification.email_status == "pending")).all()
            print(f"   drained at +1 min, still down: retrying {later.retrying}; attempts "
                  f"{dict(Counter(r.email_attempts for r in waiting))}; next try in "
                  f"{waiting[0].next_attempt_at - (down_at + timedelta(minutes=1))}")

            print("\n3. server back")
            server.start()
            before = server.accepted.value
            back_at = down_at + timedelta(minutes=3)
            start = time.perf_counter()
            result = drain(back_at)
            elapsed = time.perf_counter() - start
            statuses = dict(Counter(db.session.scalars(db.select(Notification.email_status))))
            print(f"   drained after the backoff: sent {result.sent} in {elapsed:.2f} s "
                  f"({result.sent / elapsed:.0f} messages/s); accepted by the server {server.accepted.value - before}")
            server.stop()
            addresses = server.addresses()
            print(f"   outbox: {statuses}; distinct addresses at the server {len(addresses)} of {2 * n}; "
                  f"messages accepted in all {server.accepted.value}; lost: {2 * n - len(addresses)}")
    finally:
        server.stop()
        os.unlink(addresses_file)
        database.finish()


if __name__ == "__main__":
    main()
