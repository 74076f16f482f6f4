"""GET requests is rendered cheaply (plain rows, the data's fingerprint, answers kept per query) and still
answers byte for byte what the portal answered before: the reference below is the former rendering (ORM
objects, one permission check and one label lookup per row, ElementTree for XML), run on a hand-made set."""
import json
import secrets
from datetime import timedelta

import pytest
from flask_babel import force_locale
from flask_login import AnonymousUserMixin
from sqlalchemy.orm import joinedload

from portal.auth import permissions
from portal.clock import in_zone, utcnow
from portal.extensions import db
from portal.issues.models import OPEN_STATES, Issue, IssueEvent, IssuePhoto
from portal.open311.formats import to_xml
from portal.open311.models import Open311Request
from tests.open311 import BASE, create_via_service

# --- the reference: the former rendering, kept here verbatim in substance ---------------------------------

def _iso(value, zone):
    return in_zone(value, zone).isoformat(timespec="seconds") if value is not None else None


def _reference_data(community, ids=None, *, status=None, codes=(), page=1, page_size=1000):
    from portal.issues import services as issues
    from portal.issues.models import IssueCategory
    from portal.open311.services import MAX_RANGE, _latest_public_events
    from portal.web import absolute_url
    query = db.select(Issue).where(Issue.community_id == community.id, Issue.hidden_state.is_(None)).options(
        joinedload(Issue.category), joinedload(Issue.building), joinedload(Issue.handling_org),
        joinedload(Issue.community))
    if community.members_only:
        return []
    if ids is not None:
        query = query.where(Issue.id.in_(ids))
    else:
        if codes:
            query = query.join(IssueCategory, IssueCategory.id == Issue.category_id).where(
                IssueCategory.code.in_(codes))
        if status == "open":
            query = query.where(Issue.status.in_(OPEN_STATES))
        elif status == "closed":
            query = query.where(Issue.status.not_in(OPEN_STATES))
        now = utcnow()
        query = query.where(Issue.submitted_at >= now - MAX_RANGE, Issue.submitted_at <= now) \
            .offset((page - 1) * page_size).limit(page_size)
    found = db.session.scalars(query.order_by(Issue.submitted_at.desc(), Issue.id.desc())).unique().all()
    updated, notes = _latest_public_events([i.id for i in found])
    anonymous = AnonymousUserMixin()
    visible = [i.id for i in found if permissions.can_see_issue_photos(anonymous, i)]
    photos = {}
    if visible:
        rows = db.session.execute(db.select(IssuePhoto.issue_id, IssuePhoto.key).outerjoin(
            IssueEvent, IssueEvent.id == IssuePhoto.event_id).where(
            IssuePhoto.issue_id.in_(visible),
            (IssuePhoto.event_id.is_(None)) | ((IssueEvent.is_public.is_(True)) & IssueEvent.hidden_state.is_(None)))
            .order_by(IssuePhoto.id))
        for issue_id, key in rows:
            photos.setdefault(issue_id, absolute_url("issues.photo", key=key, size=1600))
        for issue_id, link in db.session.execute(db.select(Open311Request.issue_id, Open311Request.media_url).where(
                Open311Request.issue_id.in_(visible), Open311Request.media_url.is_not(None))):
            photos.setdefault(issue_id, link)
    result = []
    for issue in found:
        zone = issue.community.time_zone
        result.append({
            "service_request_id": str(issue.id),
            "status": "open" if issue.status in OPEN_STATES else "closed",
            "status_notes": notes.get(issue.id),
            "service_name": issues.category_label(issue.category),
            "service_code": issue.category.code,
            "description": issue.description or issue.title,
            "agency_responsible": issue.handling_org.name if issue.handling_org else None,
            "service_notice": None,
            "requested_datetime": _iso(issue.submitted_at, zone),
            "updated_datetime": _iso(updated.get(issue.id, issue.submitted_at), zone),
            "expected_datetime": _iso(issue.resolve_by, zone),
            "address": issue.location_text or (issue.building.name if issue.building else None),
            "address_id": issue.building.code if issue.building else None,
            "zipcode": issue.community.postcode or None,
            "lat": float(issue.latitude) if issue.latitude is not None else None,
            "long": float(issue.longitude) if issue.longitude is not None else None,
            "media_url": photos.get(issue.id),
        })
    return result


def _reference(fmt, data) -> bytes:
    if fmt == "xml":
        text = to_xml("service_requests", "request", data)
    else:
        text = json.dumps(data, ensure_ascii=False)
    return text.encode("utf-8")


# --- a hand-made set with every kind of field ---------------------------------------------------------------

def _photo(issue, event=None):
    db.session.add(IssuePhoto(issue_id=issue.id, event_id=getattr(event, "id", None), key=secrets.token_urlsafe(16),
                              width=64, height=48))


@pytest.fixture
def made(world):
    from portal.issues import services as issues
    from portal.moderation import services as moderation
    now = utcnow()
    m = type("Made", (), {})()
    m.plain = create_via_service(world, lat="39.98", long="116.47", now=now - timedelta(days=3))
    m.plain.description = "Lift stuck & <loud> \x07 noise"  # the API refuses markup; the portal's own form may not
    m.located = create_via_service(world, service_code="water", address_string="East gate 东门",
                                   description="", now=now - timedelta(days=2))
    m.noted = create_via_service(world, service_code="gas", now=now - timedelta(days=1))
    issues.accept_issue(world.property_x, m.noted, note="On our way", now=now - timedelta(hours=20))
    hidden_note = issues.post_update(world.property_x, m.noted, "Rude words", now=now - timedelta(hours=10))
    moderation.hide(world.admin, "issue_update", hidden_note, "rude")
    _photo(m.noted)
    m.rejected = create_via_service(world, now=now - timedelta(hours=5))
    _photo(m.rejected)  # a rejected issue's photos are never public
    issues.reject_issue(world.property_x, m.rejected, "Not ours: call the gas company", now=now - timedelta(hours=4))
    m.linked = create_via_service(world, now=now - timedelta(hours=3))
    db.session.flush()
    link = db.session.scalar(db.select(Open311Request).where(Open311Request.issue_id == m.linked.id))
    link.media_url = "https://media.example/a.jpg"  # a link that was not stored as a photo
    m.hidden = create_via_service(world, service_code="water", now=now - timedelta(hours=2))
    m.hidden.hidden_state = "hidden"
    m.old = create_via_service(world, now=now - timedelta(days=120))  # outside the default 90 days
    world.categories["water"].name = "自来水（物业）"  # a renamed default: shown as named
    db.session.commit()
    return m


PATHS = ["", "&status=open", "&status=closed", "&service_code=water,lift", "&page_size=2&page=2"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_answers_are_byte_identical_to_the_former_rendering(client, world, made, fmt):
    assert client.get(f"{BASE}/requests.{fmt}?jurisdiction_id=x").data == _reference(fmt, _reference_data(world.x))
    for extra, reference in zip(PATHS[1:], [
            _reference_data(world.x, status="open"), _reference_data(world.x, status="closed"),
            _reference_data(world.x, codes=("water", "lift")), _reference_data(world.x, page_size=2, page=2)]):
        assert client.get(f"{BASE}/requests.{fmt}?jurisdiction_id=x{extra}").data == _reference(fmt, reference)
    ids = [made.plain.id, made.hidden.id, made.old.id, made.rejected.id]
    listed = client.get(f"{BASE}/requests.{fmt}?jurisdiction_id=x&service_request_id={','.join(map(str, ids))}")
    assert listed.data == _reference(fmt, _reference_data(world.x, ids=ids))
    one = client.get(f"{BASE}/requests/{made.noted.id}.{fmt}?jurisdiction_id=x")
    assert one.data == _reference(fmt, _reference_data(world.x, ids=[made.noted.id]))
    zh = client.get(f"{BASE}/requests.{fmt}?jurisdiction_id=x", headers={"Accept-Language": "zh-CN"})
    with force_locale("zh"):
        assert zh.data == _reference(fmt, _reference_data(world.x))
    assert zh.data != client.get(f"{BASE}/requests.{fmt}?jurisdiction_id=x").data  # the service names


def test_the_hand_made_set_holds_what_it_should(client, world, made):
    body = {r["service_request_id"]: r for r in client.get(f"{BASE}/requests.json?jurisdiction_id=x").get_json()}
    assert str(made.hidden.id) not in body and str(made.old.id) not in body
    assert body[str(made.noted.id)]["status_notes"] == "On our way"  # the hidden update does not show
    assert body[str(made.noted.id)]["media_url"].startswith("https://yishi.test/issues/photos/")
    assert body[str(made.rejected.id)]["media_url"] is None
    assert body[str(made.rejected.id)]["status_notes"] == "Not ours: call the gas company"
    assert body[str(made.linked.id)]["media_url"] == "https://media.example/a.jpg"
    assert body[str(made.located.id)]["service_name"] == "自来水（物业）"
    assert body[str(made.located.id)]["address"] == "East gate 东门"
    assert body[str(made.plain.id)]["lat"] == 39.98
    xml = client.get(f"{BASE}/requests.xml?jurisdiction_id=x").get_data(as_text=True)
    assert "Lift stuck &amp; &lt;loud&gt;  noise" in xml and "<service_notice />" in xml


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_kept_answer_is_reused_until_the_data_changes_and_answers_conditional_gets(client, world, made, fmt):
    from portal.issues import services as issues
    from tests.queries import recorded_statements
    path = f"{BASE}/requests.{fmt}?jurisdiction_id=x"
    with recorded_statements() as first:
        fresh = client.get(path)
    with recorded_statements() as second:
        again = client.get(path)
    assert again.data == fresh.data and again.headers["ETag"] == fresh.headers["ETag"]
    assert len(second) < len(first)  # no rows read: the jurisdiction and the fingerprint only
    assert again.headers["Cache-Control"] == "no-cache" and "Accept-Language" in again.headers["Vary"]
    unchanged = client.get(path, headers={"If-None-Match": fresh.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.data == b""
    # A public update, a new request, an issue hidden without any other trace: each is in the next answer.
    issues.post_update(world.property_x, made.plain, "Parts ordered")
    db.session.commit()
    changed = client.get(path, headers={"If-None-Match": fresh.headers["ETag"]})
    assert changed.status_code == 200 and b"Parts ordered" in changed.data
    assert changed.data == _reference(fmt, _reference_data(world.x))
    create_via_service(world, description="Brand new request")
    db.session.commit()
    assert b"Brand new request" in client.get(path).data
    made.located.hidden_state = "hidden"
    db.session.commit()
    assert client.get(path).data == _reference(fmt, _reference_data(world.x))
    assert b"East gate" not in client.get(path).data


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_kept_later_page_follows_an_issue_hidden_on_an_earlier_one(client, world, made, fmt):
    """The fingerprint reads only the answer's own page of issues: an issue hidden on page 1 (without any other
    trace) shifts page 2, and page 2 is rendered afresh."""
    path = f"{BASE}/requests.{fmt}?jurisdiction_id=x&page_size=2&page=2"
    before = client.get(path).data
    assert before == _reference(fmt, _reference_data(world.x, page_size=2, page=2))
    made.linked.hidden_state = "hidden"  # the newest listed issue
    db.session.commit()
    after = client.get(path).data
    assert after != before
    assert after == _reference(fmt, _reference_data(world.x, page_size=2, page=2))
