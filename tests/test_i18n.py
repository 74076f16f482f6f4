"""English and Simplified Chinese ship complete: every string in the code has a Chinese translation."""
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "portal" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
METHODS = [("portal/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]


def _source_messages() -> set:
    ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), METHODS, keywords={"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None,
                                          "_l": None, "pgettext": ((1, "c"), 2)}):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def test_every_source_string_has_a_complete_chinese_translation():
    with open(CATALOGUE, "rb") as f:
        catalogue = read_po(f)
    missing = sorted(m for m in _source_messages() if m and (catalogue.get(m) is None))
    assert not missing, f"strings not in the Chinese catalogue (run `make extract`): {missing[:20]}"
    untranslated = [m.id for m in catalogue if m.id and (m.fuzzy or not m.string or (
        isinstance(m.string, tuple) and not all(m.string)))]
    assert not untranslated, f"untranslated or fuzzy Chinese strings: {untranslated[:20]}"


def test_language_follows_the_browser_and_sets_html_lang(client):
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert '<html lang="zh-CN"' in page
    assert "议事" in page
    page = client.get("/", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert '<html lang="en"' in page


def test_language_switch_is_remembered_in_a_cookie(client):
    from tests.csrf import csrf_token
    token = csrf_token(client, "/")
    response = client.post("/language", data={"language": "zh", "next": "/", "csrf_token": token})
    assert response.status_code == 302
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-CN"' in page
