"""The privacy pages: a person's own data page, download, deletion and cancelling, the counter deletion,
accepting a changed privacy notice."""
import io
import json
import zipfile
from datetime import timedelta

from portal.clock import utcnow
from portal.extensions import db
from portal.privacy import services
from portal.privacy.models import ConsentRecord, DataExport
from tests.csrf import csrf_token


def _post(client, path, data=None, page="/account/privacy"):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **(data or {})})


def test_the_account_page_links_to_my_data(world, client, auth):
    auth.login(world.reporter)
    account = client.get("/account").get_data(as_text=True)
    assert account.count('href="/account/privacy"') == 1
    assert "<title>My account" in account
    page = client.get("/account/privacy").get_data(as_text=True)
    assert "Download my data" in page and "Delete my account" in page


def test_a_visitor_is_sent_to_sign_in(client, world):
    assert client.get("/account/privacy").status_code == 302


def test_download_my_data_gives_a_zip_of_my_own(world, client, auth):
    auth.login(world.reporter)
    assert _post(client, "/account/privacy/export").status_code == 302
    export = db.session.scalar(db.select(DataExport).where(DataExport.user_id == world.reporter.id))
    response = client.get(f"/account/privacy/export/{export.id}")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "no-store" in response.headers["Cache-Control"]
    data = json.loads(zipfile.ZipFile(io.BytesIO(response.data)).read("data.json"))
    assert data["account"]["id"] == world.reporter.id
    auth.logout()
    auth.login(world.neighbour)
    assert client.get(f"/account/privacy/export/{export.id}").status_code == 404


def test_ask_cancel_and_ask_again_to_delete(world, client, auth):
    auth.login(world.reporter)
    _post(client, "/account/privacy/delete")
    assert services.open_deletion(world.reporter) is not None
    assert "Cancel the deletion" in client.get("/account/privacy").get_data(as_text=True)
    _post(client, "/account/privacy/delete/cancel")
    assert services.open_deletion(world.reporter) is None
    _post(client, "/account/privacy/delete")
    assert services.open_deletion(world.reporter) is not None


def test_after_the_deletion_the_session_ends(world, client, auth):
    auth.login(world.reporter)
    _post(client, "/account/privacy/delete")
    db.session.expire_all()
    services.carry_out_due_deletions(utcnow() + timedelta(days=8))
    db.session.commit()
    assert client.get("/account").status_code == 302  # sent to sign in


def test_counter_deletion_for_each_role(world, client, auth):
    path = f"/people/{world.neighbour.id}/delete"
    for person, allowed in ((world.reporter, False), (world.resident_y, False), (world.property_x, False),
                            (world.official_a, False), (world.chair_x, True)):
        auth.login(person)
        assert client.get(path).status_code == (200 if allowed else 403), person
        auth.logout()
    auth.login(world.chair_x)
    assert client.post(path, data={"csrf_token": csrf_token(client, path)}).status_code == 302
    db.session.expire_all()
    assert world.neighbour.display_name == "deleted participant"


def test_the_residents_page_offers_the_counter_deletion_to_the_committee(world, client, auth):
    path = f"/c/x/residents/{world.neighbour.id}"
    auth.login(world.chair_x)
    assert f"/people/{world.neighbour.id}/delete" in client.get(path).get_data(as_text=True)


def test_withdraw_digest_consent_from_the_page(world, client, auth):
    auth.login(world.reporter)
    _post(client, "/account/privacy/digests", {"given": "0"})
    assert not services.digest_consent(world.reporter)
    assert "Allow e-mail digests again" in client.get("/account/privacy").get_data(as_text=True)


def test_a_person_who_agreed_to_an_older_notice_accepts_the_new_one_first(world, client, auth):
    world.reporter.consented_at = utcnow() - timedelta(days=400)
    db.session.commit()
    auth.login(world.reporter)
    response = client.get("/my/residency")
    assert response.status_code == 302 and "/privacy/accept" in response.headers["Location"]
    assert client.get("/privacy").status_code == 200  # the notice itself can be read
    page = "/privacy/accept?next=/my/residency"
    response = client.post(page, data={"csrf_token": csrf_token(client, page), "next": "/my/residency"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/my/residency")
    assert db.session.scalar(db.select(ConsentRecord).where(ConsentRecord.user_id == world.reporter.id))
    assert client.get("/my/residency").status_code == 200


def test_accepting_never_sends_off_site(world, client, auth):
    world.reporter.consented_at = utcnow() - timedelta(days=400)
    db.session.commit()
    auth.login(world.reporter)
    page = "/privacy/accept"
    response = client.post(page, data={"csrf_token": csrf_token(client, page), "next": "//evil.example"})
    assert response.headers["Location"] in ("/", "http://localhost/")


def test_the_privacy_page_shows_the_retention_periods(client, world):
    page = client.get("/privacy").get_data(as_text=True)
    assert "180" in page and "90" in page and "30" in page


def test_the_committee_removes_a_photo_from_the_issue_page(world, client, auth):
    from portal.issues.models import IssuePhoto
    from tests.issues import gen_issue
    from tests.issues.test_services import tiny_png
    issue = gen_issue(world, photos=[tiny_png()])
    db.session.commit()
    photo = db.session.scalar(db.select(IssuePhoto).where(IssuePhoto.issue_id == issue.id))
    page = f"/c/x/issues/{issue.id}"
    auth.login(world.reporter)
    assert f"/issues/photos/{photo.id}/remove" not in client.get(page).get_data(as_text=True)
    assert _post(client, f"/issues/photos/{photo.id}/remove", page=page).status_code == 403
    auth.logout()
    auth.login(world.chair_x)
    assert f"/issues/photos/{photo.id}/remove" in client.get(page).get_data(as_text=True)
    assert _post(client, f"/issues/photos/{photo.id}/remove", page=page).status_code == 302
    assert db.session.scalar(db.select(IssuePhoto).where(IssuePhoto.issue_id == issue.id)) is None
