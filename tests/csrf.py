"""Reading the CSRF token a page carries, so tests post forms as a browser does; comparing pages whatever
their tokens."""
import re

TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(client, path: str = "/") -> str:
    """The token on `path`. A visitor's page without a form carries none (and so writes no session): then the
    token is the one a visitor's browser holds from the sign-in page. Signed-in pages always carry one."""
    page = client.get(path).get_data(as_text=True)
    match = TOKEN.search(page)
    if match is None:
        match = TOKEN.search(client.get("/login").get_data(as_text=True))
    assert match, f"no csrf_token on {path}"
    return match.group(1)


def tokens_alike(page: str) -> str:
    """The page with its CSRF tokens made alike: a signed token carries the second it was signed in, so two
    requests of one session a second boundary apart carry different ones."""
    page = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value="T"', page)
    return re.sub(r'"X-CSRFToken": "[^"]+"', '"X-CSRFToken": "T"', page)
