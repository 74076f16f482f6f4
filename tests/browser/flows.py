"""What a person does with the account pages, step by step, as the browser sees it (English pages)."""
import itertools
import os

from playwright.sync_api import expect

_serial = itertools.count(1)


def unique_email(prefix: str = "resident") -> str:
    # The browser database lives for the whole session: every test makes its own people.
    return f"{prefix}-{os.getpid()}-{next(_serial)}@example.org"


def unique_phone() -> str:
    return f"139{os.getpid() % 10000:04d}{next(_serial):04d}"


def visit(page, path: str):
    """Go to a page and insist it is there (a page not built yet fails here, plainly)."""
    response = page.goto(path)
    assert response is not None and response.ok, f"{path} answered {response.status if response else None}"
    return response


def form_with(page, field_name: str):
    """The form in the page's main content that has a field of this name."""
    return page.locator("main form", has=page.locator(f"[name='{field_name}']")).first


def submit(form) -> None:
    form.locator("[type=submit]").first.click()


def sign_out_button(page):
    """In the header's menu: present (attached) whenever someone is signed in, visible once the menu is open."""
    return page.locator("header").get_by_role("button", name="Sign out", include_hidden=True)


def open_menu(page) -> None:
    """Open the header's menu (a details element: no JavaScript needed) unless it is open already."""
    menu = page.locator("header details.site-menu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    expect(menu).to_have_attribute("open", "")


def press_header_button(page, name: str) -> None:
    """The language and text-size switches, in the menu: a POST that comes back to the same page."""
    open_menu(page)
    with page.expect_navigation():
        page.locator("header").get_by_role("button", name=name).click()


def press_switch(page, field: str, value: str) -> None:
    """A header switch by what it sends (language=zh, large=1), whatever language the page is in."""
    open_menu(page)
    with page.expect_navigation():
        page.locator(f"header button[name='{field}'][value='{value}']").click()


def register(page, login: str, display_name: str, password: str) -> None:
    visit(page, "/register")
    form = form_with(page, "display_name")
    form.locator("[name=login]").fill(login)
    form.locator("[name=display_name]").fill(display_name)
    form.locator("[name=password]").fill(password)
    form.locator("[name=confirm]").fill(password)
    form.locator("[name=consent]").check()
    submit(form)
    # Registering does not sign in by itself (the answer must not tell who already has an account): the
    # sign-in page it leads to has the login filled in.
    form = form_with(page, "password")
    form.locator("[name=password]").fill(password)
    submit(form)
    expect(sign_out_button(page)).to_be_attached()


def sign_in(page, login: str, password: str, remember: bool = False) -> None:
    visit(page, "/login")
    form = form_with(page, "password")
    form.locator("[name=login]").fill(login)
    form.locator("[name=password]").fill(password)
    if remember:
        form.locator("[name=remember]").check()
    submit(form)
    expect(sign_out_button(page)).to_be_attached()


def sign_out(page) -> None:
    open_menu(page)
    sign_out_button(page).click()
    expect(page.locator("header").get_by_role("link", name="Sign in")).to_be_visible()
    expect(sign_out_button(page)).to_have_count(0)
