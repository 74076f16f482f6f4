"""Issue 2 (foundation) in a phone browser: accounts, language, larger text, password recovery, no-JS."""
import re

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import (
    form_with,
    press_header_button,
    press_switch,
    register,
    sign_in,
    sign_out,
    sign_out_button,
    submit,
    unique_email,
    unique_phone,
    visit,
)
from tests.browser.screens import capture
from tests.factories import DEFAULT_PASSWORD, gen_user

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u4e00-\u9fff]")


def seed_user(live_server, **fields):
    with live_server.app.app_context():
        user = gen_user(**fields)
        db.session.commit()
        return user.login_name


def reset_link_for(live_server, login: str) -> str:
    """The reset link from the e-mail the portal sent over SMTP to `login`."""
    mails = [m for m in live_server.mailbox.messages if m["To"] == login]
    assert mails, f"no e-mail arrived for {login}"
    text = mails[-1].get_payload()[0].get_payload(decode=True).decode()
    found = re.search(re.escape(live_server.url) + r"/reset/\S+", text)
    assert found, f"no reset link in the e-mail:\n{text}"
    return found.group(0).rstrip(".,")


def test_register_with_consent_then_sign_out_and_sign_in_again(page, context):
    login = unique_email("newcomer")
    visit(page, "/register")
    capture(page, "register", docs="register")

    register(page, login, "Wang Fang 王芳", "plum blossom 88")
    expect(page.locator("main")).to_contain_text("Wang Fang 王芳")
    capture(page, "home-signed-in")

    sign_out(page)
    visit(page, "/login")
    capture(page, "login", docs="login")

    sign_in(page, login, "plum blossom 88", remember=True)
    assert any(cookie["name"] == "remember_token" for cookie in context.cookies()), \
        "'Keep me signed in' should leave a remember cookie"


def test_registration_needs_consent(page):
    visit(page, "/register")
    form = form_with(page, "display_name")
    form.locator("[name=login]").fill(unique_phone())
    form.locator("[name=display_name]").fill("No Consent")
    form.locator("[name=password]").fill("plum blossom 88")
    form.locator("[name=confirm]").fill("plum blossom 88")
    submit(form)
    expect(form_with(page, "consent").locator(".error")).to_be_visible()
    expect(sign_out_button(page)).to_have_count(0)
    capture(page, "register-errors")


def test_wrong_password_is_refused_in_the_form(page, live_server):
    login = seed_user(live_server, email=unique_email())
    visit(page, "/login")
    form = form_with(page, "password")
    form.locator("[name=login]").fill(login)
    form.locator("[name=password]").fill("not the password")
    submit(form)
    expect(page.locator("main .error")).to_be_visible()
    expect(sign_out_button(page)).to_have_count(0)


def test_switch_to_chinese_and_back_to_english(page):
    page.goto("/")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")
    capture(page, "home-en")

    press_header_button(page, "中文")
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.locator("main h1")).to_have_text(CJK)
    expect(page.locator("header nav")).to_contain_text(CJK)
    capture(page, "home-zh", docs="home-zh")

    # The choice is remembered on the next page.
    visit(page, "/login")
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.locator("main h1")).to_have_text(CJK)
    capture(page, "login-zh")

    press_header_button(page, "English")
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("main h1")).to_have_text("Sign in")


def test_language_follows_the_browser_until_chosen(new_context):
    page = new_context(locale="zh-CN").new_page()
    visit(page, "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("main h1")).to_have_text(CJK)
    press_header_button(page, "English")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    visit(page, "/register")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_signed_in_choices_are_kept_with_the_account(new_context, live_server):
    login = seed_user(live_server, email=unique_email("elder"))
    page = new_context().new_page()
    sign_in(page, login, DEFAULT_PASSWORD)
    press_switch(page, "language", "zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    press_switch(page, "large", "1")
    expect(page.locator("html")).to_have_class(re.compile(r"\blarge-text\b"))

    # Another phone, no cookies: once signed in, the account's choices apply.
    other = new_context().new_page()
    visit(other, "/login")
    form = form_with(other, "password")
    form.locator("[name=login]").fill(login)
    form.locator("[name=password]").fill(DEFAULT_PASSWORD)
    with other.expect_navigation():
        submit(form)
    expect(other.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(other.locator("html")).to_have_class(re.compile(r"\blarge-text\b"))
    capture(other, "home-zh-large-text-signed-in")


def test_larger_text_mode_and_back(page):
    page.goto("/")
    html = page.locator("html")
    press_header_button(page, "Larger text")
    expect(html).to_have_class(re.compile(r"\blarge-text\b"))
    body_px = float(page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)"))
    assert body_px >= 20, f"body text is {body_px}px in larger-text mode"
    capture(page, "home-large-text")

    # Larger text must still fit a phone, on a form page too.
    visit(page, "/register")
    expect(html).to_have_class(re.compile(r"\blarge-text\b"))
    capture(page, "register-large-text")

    press_header_button(page, "Normal text")
    expect(html).not_to_have_class(re.compile(r"\blarge-text\b"))
    body_px = float(page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)"))
    assert 16 <= body_px < 20


def test_recover_password_with_emailed_link(page, live_server):
    login = seed_user(live_server, email=unique_email("forgetful"))
    visit(page, "/forgot-password")
    capture(page, "forgot-password")
    form = form_with(page, "login")
    form.locator("[name=login]").fill(login)
    with page.expect_navigation():
        submit(form)
    capture(page, "forgot-password-sent")

    url = reset_link_for(live_server, login)
    assert url.startswith(live_server.url + "/"), f"reset link {url} is not on PORTAL_BASE_URL"
    page.goto(url)
    capture(page, "reset-password")
    form = form_with(page, "confirm")
    form.locator("[name=password]").fill("new lantern 2026")
    form.locator("[name=confirm]").fill("new lantern 2026")
    submit(form)
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flashes")).to_contain_text("new password is set")
    expect(sign_out_button(page)).to_have_count(0)

    # The link is used up, and the old password no longer works.
    page.goto(url)
    expect(page.locator("main [role=alert]")).to_be_visible()
    expect(page.locator("main form [name=confirm]")).to_have_count(0)
    capture(page, "reset-link-used")
    visit(page, "/login")
    form = form_with(page, "password")
    form.locator("[name=login]").fill(login)
    form.locator("[name=password]").fill(DEFAULT_PASSWORD)
    submit(form)
    expect(page.locator("main .error")).to_be_visible()

    sign_in(page, login, "new lantern 2026")


def test_register_and_sign_in_without_javascript(new_context):
    page = new_context(java_script_enabled=False).new_page()
    login = unique_phone()
    register(page, login, "Li Wei 李伟", "quiet garden 77")
    sign_out(page)
    sign_in(page, login, "quiet garden 77")
    press_header_button(page, "中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


PUBLIC_PAGES = ["/", "/login", "/register", "/forgot-password", "/privacy"]
SIGNED_IN_PAGES = ["/account", "/notifications/"]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_pages_fit_a_phone_screen(page, live_server, language):
    page.goto("/")
    if language == "zh":
        press_header_button(page, "中文")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    for path in PUBLIC_PAGES:
        response = page.goto(path)
        assert response.status == 200, f"{path}: {response.status}"
        capture(page, f"{language}{path.replace('/', '-').rstrip('-') or '-home'}")

    login = seed_user(live_server, email=unique_email())
    visit(page, "/login")
    form = form_with(page, "password")
    form.locator("[name=login]").fill(login)
    form.locator("[name=password]").fill(DEFAULT_PASSWORD)
    with page.expect_navigation():
        submit(form)
    for path in SIGNED_IN_PAGES:
        response = page.goto(path)
        assert response.status == 200, f"{path}: {response.status}"
        capture(page, f"{language}{path.replace('/', '-').rstrip('-')}")
