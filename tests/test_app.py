def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_home_is_public_and_carries_security_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Referrer-Policy" in response.headers


def test_pages_require_sign_in_unless_public(client):
    response = client.get("/notifications/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_an_id_too_large_for_the_database_is_not_found(client):
    """Every <int:…> in a route stops at what an integer column holds: 404, not an overflow."""
    from portal.extensions import db
    from tests.factories import gen_community, gen_sub_district
    gen_community(gen_sub_district(), slug="x")
    db.session.commit()
    assert client.get("/c/x/proposals/2147483647").status_code == 404  # the largest id: looked up, not there
    assert client.get("/c/x/proposals/" + "9" * 30).status_code == 404
    assert client.get("/c/x/issues/" + "9" * 30).status_code == 404
