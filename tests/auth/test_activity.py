"""A person's own account activity (on "My residence"): every event in words, in both languages, never a code
such as `account.login` or `notifications.preferences_changed`."""
import re

import pytest

from portal.audit import labels
from portal.audit.services import record
from portal.extensions import db
from tests.factories import gen_user

CODE = re.compile(r"\b(account|notifications|residency|resident|owner|act_for|membership)\.[a-z_]+\b")


def _record_section(page: str) -> str:
    return page.split('id="record-heading"', 1)[1].split("</section>", 1)[0]


@pytest.mark.parametrize("language, words", [
    ("en", ["You", "signed in to your account", "changed your notification settings",
            "a sign-in to your account failed",
            "Member Chen", "viewed your record", "changed your display name"]),
    ("zh-CN", ["您", "登录了您的账户", "修改了您的通知设置", "您的账户有一次登录失败", "Member Chen", "查看了您的记录"]),  # noqa: E501
])
def test_account_activity_is_in_words_never_codes(client, auth, language, words):
    person, member = gen_user(display_name="Person Wu"), gen_user(display_name="Member Chen")
    db.session.commit()
    auth.login(person)  # account.login
    db.session.expire_all()
    record(person, "notifications.preferences_changed", person, subject_user=person, changes={"issues": "off"})
    record(None, "account.login_failed", person, subject_user=person, ip="10.0.0.1", reason="password")
    record(member, "resident.viewed", person, subject_user=person)
    record(member, "account.display_name", person, subject_user=person, old="A", new="B")
    record(member, "newarea.something_done", person, subject_user=person)  # a code nobody named yet
    db.session.commit()
    page = client.get("/my/residency", headers={"Accept-Language": language}).get_data(as_text=True)
    section = _record_section(page)
    for word in words:
        assert word in section, word
    assert not CODE.search(section), CODE.search(section).group(0)
    assert "newarea.something_done" not in section and "something done" in section


def test_every_code_the_portal_records_has_words():
    """Each action code written anywhere in the portal's code has a phrase of its own."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "portal"
    codes = set()
    for path in root.rglob("*.py"):
        codes |= set(re.findall(r"record\([^\"'\n]*[\"']([a-z_0-9]+\.[a-z_0-9.]+)[\"']", path.read_text("utf-8")))
    assert codes, "found the record() calls"
    unnamed = sorted(code for code in codes if code not in labels.ACTION_LABELS)
    assert not unnamed, unnamed
