"""Reading the CSRF token a page carries, so tests post forms as a browser does."""
import re

TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(client, path: str = "/") -> str:
    """The token on `path`. "/" stands for "any page": a visitor's home page carries no form (and so writes no
    session), so for a visitor the token comes from the sign-in page, as a browser's would."""
    page = client.get(path).get_data(as_text=True)
    match = TOKEN.search(page)
    if match is None and path == "/":
        match = TOKEN.search(client.get("/login").get_data(as_text=True))
    assert match, f"no csrf_token on {path}"
    return match.group(1)
