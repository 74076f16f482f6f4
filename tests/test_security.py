from tests.csrf import csrf_token


def test_post_without_csrf_token_is_refused_with_a_page(client):
    response = client.post("/language", data={"language": "zh"})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)


def test_htmx_post_without_csrf_token_asks_for_a_refresh(client):
    response = client.post("/language", data={"language": "zh"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Refresh"] == "true"


def test_htmx_post_with_the_token_in_a_header_is_accepted(client):
    token = csrf_token(client, "/")
    response = client.post("/text-size", data={"large": "1"},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 302


def test_larger_text_choice_is_remembered_for_visitors(client):
    token = csrf_token(client, "/")
    client.post("/text-size", data={"large": "1", "csrf_token": token})
    assert 'class="large-text"' in client.get("/").get_data(as_text=True)


def test_a_ten_megabyte_body_gets_the_too_large_page(client):
    response = client.post("/language", data={"language": "x" * (10 * 1024 * 1024)})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True).lower()


def test_unknown_page_is_a_translated_404(client):
    response = client.get("/no/such/page", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 404
    assert '<html lang="zh-CN"' in response.get_data(as_text=True)


def test_redirect_after_switch_never_leaves_the_site(client):
    token = csrf_token(client, "/")
    response = client.post("/language", data={"language": "en", "next": "https://evil.example/x",
                                               "csrf_token": token})
    assert response.headers["Location"] in ("/", "/x", "http://localhost/")


def test_session_cookie_is_httponly_and_lax(client):
    token = csrf_token(client, "/")
    assert token
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
