"""Reads are public without a key; a read that names a key uses it, so a revoked or wrong key answers 403
(README: "403 missing/wrong/revoked api_key"), on every read resource and in both formats."""
import pytest

from portal.extensions import db
from portal.open311 import services
from tests.open311 import BASE, create_via_service, error_of

READS = ["/discovery.{fmt}", "/services.{fmt}?jurisdiction_id=x", "/services/lift.{fmt}?jurisdiction_id=x",
         "/requests.{fmt}?jurisdiction_id=x", "/requests/{issue}.{fmt}?jurisdiction_id=x"]


def _paths(world, fmt, token=None):
    issue = create_via_service(world)
    db.session.commit()
    for read in READS:
        path = BASE + read.format(fmt=fmt, issue=issue.id)
        if token is not None:
            path += ("&" if "?" in path else "?") + f"api_key={token}"
        yield path


def _usage():
    from portal.open311.models import Open311Usage
    return db.session.scalars(db.select(Open311Usage).order_by(Open311Usage.id)).all()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_revoked_key_is_refused_on_every_read(client, world, fmt):
    services.revoke_key(world.admin, world.key)
    db.session.commit()
    for path in _paths(world, fmt, world.token):
        response = client.get(path)
        assert response.status_code == 403, path
        assert error_of(response, fmt) == (403, "This api_key was revoked."), path
    assert _usage() == []  # a refused read is not counted as the key's use


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_wrong_key_is_refused_on_every_read(client, world, fmt):
    for path in _paths(world, fmt, "o311_not_a_key_anyone_was_given"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert error_of(response, fmt) == (403, "This api_key is not valid."), path


def test_reads_without_a_key_stay_public_and_an_empty_key_counts_as_none(client, world):
    services.revoke_key(world.admin, world.key)
    db.session.commit()
    for path in _paths(world, "json"):
        assert client.get(path).status_code == 200, path
        assert client.get(path + ("&" if "?" in path else "?") + "api_key=").status_code == 200, path


def test_an_active_key_reads_and_its_reads_are_counted(client, world):
    for path in _paths(world, "json", world.token):
        assert client.get(path).status_code == 200, path
    assert [u.endpoint for u in _usage()] == ["services", "service_definition", "requests", "request"]


def test_a_key_revoked_after_a_read_cannot_revalidate_the_kept_answer(client, world):
    """The list answers a conditional GET with 304 from its kept answer: the key is checked before that."""
    path = f"{BASE}/requests.json?jurisdiction_id=x&api_key={world.token}"
    first = client.get(path)
    assert first.status_code == 200
    services.revoke_key(world.admin, db.session.get(type(world.key), world.key.id))
    db.session.commit()
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 403 and error_of(again) == (403, "This api_key was revoked.")


def test_a_revoked_key_is_refused_in_the_readers_language(client, world):
    services.revoke_key(world.admin, world.key)
    db.session.commit()
    response = client.get(f"{BASE}/services.json?jurisdiction_id=x&api_key={world.token}",
                          headers={"Accept-Language": "zh-CN"})
    code, description = error_of(response)
    assert code == 403 and description != "This api_key was revoked." and "api_key" in description
