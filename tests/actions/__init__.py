"""Shared for the actions tests.

`world` (fixture in conftest.py) is the votes world (tests/votes/__init__.py: the proposals and issues worlds —
communities x, y (sub-district A) and z (sub-district B); x's residents' committee w.rc_x with w.chair_x and
w.member_x; x's homeowners' committee w.hoa_x with w.hoa_chair; x's property company w.pc_x with staff
w.property_x; sub-district A's department w.dept_a with staff w.department_a; officials w.official_a (A) and
w.official_b (B); verified residents of x w.reporter, w.neighbour, w.supporters; w.resident_y of y; admin,
stranger) plus:
  w.passed       a proposal of x that passed and whose notice ended: status "implementing"
  w.resolved     an issue of x, resolved (status "resolved")
  w.meeting      a held meeting of w.rc_x with one decision w.decision (follow-up "create_action")

Helpers (each goes through portal.actions.services; flushes, commits nothing):
  gen_action(world, *, source="proposal", actor=None, community=None, **kw) -> Action
      created by w.chair_x from w.passed (source "proposal"), w.decision ("decision"), w.resolved ("issue") or a
      hotspot of building w.bx × category "lift" (by w.official_a); responsible org w.pc_x, owner w.property_x,
      due in 30 days (community-local date of `now`) unless given. Keywords go to services.create_action.
  local_today(community, now=None) -> date     the community-local date of `now` (default the real clock)
  photo(name="p.jpg") -> FileStorage           a small real JPEG
  pdf(name="d.pdf") -> FileStorage             a small PDF
Times default to the real clock (pages apply due steps with it); time-driven tests pass `now` everywhere."""
import io
from datetime import timedelta


def local_today(community, now=None):
    from zoneinfo import ZoneInfo

    from portal.clock import utcnow
    now = now or utcnow()
    return now.astimezone(ZoneInfo(community.time_zone)).date()


def gen_action(world, *, source="proposal", actor=None, community=None, **kw):
    from portal.actions import services
    community = community or world.x
    now = kw.get("now")
    if source == "proposal":
        kw.setdefault("proposal", world.passed)
    elif source == "decision":
        kw.setdefault("decision", world.decision)
    elif source == "issue":
        kw.setdefault("issue", world.resolved)
    elif source == "hotspot":
        kw.setdefault("hotspot", {"building": world.bx, "category": world.categories["lift"],
                                  "month": local_today(community, now).strftime("%Y-%m")})
        actor = actor or world.official_a
    kw.setdefault("title", "更换3号楼电梯钢丝绳")
    kw.setdefault("responsible_org", world.pc_x)
    kw.setdefault("owner", world.property_x)
    kw.setdefault("due_date", local_today(community, now) + timedelta(days=30))
    return services.create_action(actor or world.chair_x, community, source=source, **kw)


def photo(name="p.jpg", size=(32, 24), color=(200, 60, 40)):
    from PIL import Image
    from werkzeug.datastructures import FileStorage
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    buf.seek(0)
    return FileStorage(stream=buf, filename=name, content_type="image/jpeg")


def pdf(name="d.pdf"):
    from pypdf import PdfWriter
    from werkzeug.datastructures import FileStorage
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    body = io.BytesIO()
    writer.write(body)
    body.seek(0)
    return FileStorage(stream=body, filename=name, content_type="application/pdf")
