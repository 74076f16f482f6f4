"""The Open311 demo: a documented demo key for 花家地社区 and requests it created, readable by any client."""
from portal.demo import DEMO_ACCOUNTS, ensure_user
from portal.extensions import db
from portal.issues.demo import seed_issues
from portal.open311.demo import DEMO_SLUG, DEMO_TOKEN, REQUESTS, seed_open311
from portal.open311.models import Open311Delivery, Open311Key, Open311Request
from portal.residents.demo import seed_people
from tests.open311 import BASE
from tests.residents.test_demo import demo_places


def test_the_demo_issues_a_key_and_requests_and_is_idempotent(app, client):
    for login, name, is_admin in DEMO_ACCOUNTS:
        ensure_user(login, name, is_admin=is_admin)
    demo_places()
    seed_people()
    seed_issues()
    lines = seed_open311()
    db.session.commit()
    assert any(DEMO_TOKEN in line for line in lines)
    assert db.session.scalar(db.select(db.func.count(Open311Request.id))) == len(REQUESTS)
    body = client.get(f"{BASE}/requests.json?jurisdiction_id={DEMO_SLUG}&service_code=lighting,rubbish,parking"
                      ).get_json()
    ours = {r["service_request_id"] for r in body} & {
        str(i) for i in db.session.scalars(db.select(Open311Request.issue_id))}
    assert len(ours) == len(REQUESTS)
    assert any(r["status_notes"] == REQUESTS[0][2] for r in body)
    response = client.post(f"{BASE}/requests.json", data={"api_key": DEMO_TOKEN, "jurisdiction_id": DEMO_SLUG,
                                                         "service_code": "lift", "address_id": "1"})
    assert response.status_code == 201
    key = db.session.scalar(db.select(Open311Key))
    assert key.webhook_url.startswith("https://") and key.webhook_secret and key.webhook_failures == 3
    states = db.session.execute(db.select(Open311Delivery.status, Open311Delivery.last_error)
                                .order_by(Open311Delivery.id)).all()
    assert [s for s, _e in states] == ["delivered", "pending"] and states[1][1].startswith("cannot reach")
    seed_open311()
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count(Open311Delivery.id))) == 2
    assert db.session.scalar(db.select(db.func.count(Open311Key.id))) == 1
    assert db.session.scalar(db.select(db.func.count(Open311Request.id))) == len(REQUESTS) + 1


def test_the_demo_does_nothing_without_places(app):
    assert seed_open311() == []
