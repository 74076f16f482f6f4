"""Reading the CSRF token a page carries, so tests post forms as a browser does."""
import re

TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(client, path: str = "/") -> str:
    page = client.get(path).get_data(as_text=True)
    match = TOKEN.search(page)
    assert match, f"no csrf_token on {path}"
    return match.group(1)
