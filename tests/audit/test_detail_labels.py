"""Every details key an audit entry can carry has a label in words, in English and in Chinese: the log never
shows a key turned into English words ("Area m2") on the Chinese page."""
import ast
import re
from pathlib import Path

from flask_babel import force_locale

from portal.audit.labels import _detail_labels
from portal.audit.services import record
from portal.extensions import db
from tests.factories import gen_building, gen_community, gen_household, gen_sub_district, gen_user

PORTAL = Path(__file__).resolve().parents[2] / "portal"
NOT_DETAILS = {"on_behalf_of", "subject_user"}  # record's own arguments, not stored in the details

# Dicts spread into `record(..., **name)` whose keys the code builds elsewhere, by (action, name). A new
# spread fails the test below until its keys are listed here.
SPREAD_KEYS = {
    # places: `_assign(obj, **values)` returns {field: [before, after]} for the fields it changed
    ("sub_district.update", "changed"): {"name", "slug"},
    ("building.update", "changed"): {"name", "code"},
    ("household.update", "changed"): {"entrance", "room", "area_m2"},
    # places: `_community_fields(...)`, and `members_only` beside it in update_community
    ("community.create", "values"): {"sub_district_id", "name", "slug", "time_zone", "postcode"},
    ("community.update", "changed"): {"sub_district_id", "name", "slug", "time_zone", "postcode", "members_only"},
    # auth: update_preferences sets changed["locale"] and changed["large_text"]
    ("account.preferences", "changed"): {"locale", "large_text"},
}


def _literal_keys(node):
    """The keys of a dict written out in the call ({...}, or either of two such dicts); None otherwise."""
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) for k in node.keys):
        return {k.value for k in node.keys}
    if isinstance(node, ast.IfExp):
        body, orelse = _literal_keys(node.body), _literal_keys(node.orelse)
        if body is not None and orelse is not None:
            return body | orelse
    return None


def _record_calls():
    for path in sorted(PORTAL.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and (getattr(node.func, "id", None) == "record"
                                               or getattr(node.func, "attr", None) == "record"):
                yield f"{path.relative_to(PORTAL.parent)}:{node.lineno}", node


def _detail_keys():
    """{key: where} for every details key passed to record(), and the spreads nobody listed."""
    keys, unlisted = {}, []
    for where, call in _record_calls():
        action = call.args[1].value if len(call.args) > 1 and isinstance(call.args[1], ast.Constant) else None
        for keyword in call.keywords:
            if keyword.arg is not None:
                found = {keyword.arg} - NOT_DETAILS
            else:
                found = _literal_keys(keyword.value)
                if found is None:
                    found = SPREAD_KEYS.get((action, ast.unparse(keyword.value)))
                if found is None:
                    unlisted.append(f"{where} {action} **{ast.unparse(keyword.value)}")
                    continue
            for key in found:
                keys.setdefault(key, where)
    return keys, unlisted


def test_the_walk_finds_the_record_calls_and_their_keys():
    keys, _unlisted = _detail_keys()
    assert len(keys) > 100
    assert {"area_m2", "owner_ids", "previous_threshold", "ballot_id", "issue_id", "reason"} <= set(keys)
    assert {"time_zone", "large_text", "voter_id"} <= set(keys)  # from the spreads


def test_every_detail_key_passed_to_record_has_a_label():
    keys, unlisted = _detail_keys()
    assert not unlisted, f"list the keys these dicts can carry in SPREAD_KEYS: {unlisted}"
    labels = _detail_labels()
    missing = sorted(f"{key} ({where})" for key, where in keys.items() if key not in labels)
    assert not missing, f"details keys without a label in portal/audit/labels.py: {missing}"


def _has_english(text) -> bool:
    return re.search(r"[A-Za-z]", text.replace("IP", "").replace("m²", "")) is not None


def test_every_detail_label_has_its_chinese_words():
    english = _detail_labels()
    with force_locale("zh"):
        chinese = _detail_labels()
    untranslated = sorted(key for key in english if chinese[key] == english[key])
    assert not untranslated, untranslated
    # no English word left but the technical ones
    assert not [text for text in chinese.values() if _has_english(text)]


def test_the_listed_spreads_are_the_keys_the_services_write(app):
    from portal.audit.models import AuditEntry
    from portal.auth.services import update_preferences
    from portal.places.services import update_building, update_community, update_household, update_sub_district
    admin = gen_user(is_admin=True)
    sub_district, other = gen_sub_district(), gen_sub_district()
    community = gen_community(sub_district, postcode="100102")
    update_sub_district(admin, sub_district, name="望京街道", slug="wangjing-sd")
    update_community(admin, community, sub_district=other, name="花家地社区", slug="huajiadi", postcode="100103",
                     time_zone="Asia/Urumqi", members_only=True)
    update_building(admin, gen_building(community), name="3号楼", code="3A")
    update_household(admin, gen_household(gen_building(community)), entrance="2", room="1201", area_m2="90.25")
    update_preferences(admin, locale="zh", large_text=True)
    db.session.flush()
    written = {}
    for entry in db.session.scalars(db.select(AuditEntry)):
        written.setdefault(entry.action, set()).update(entry.details or {})
    for (action, _name), keys in SPREAD_KEYS.items():
        if action != "community.create":
            assert written[action] == keys, action


def test_the_chinese_log_labels_every_detail_in_chinese(client, auth):
    admin = gen_user(is_admin=True)
    household = gen_household(gen_building(gen_community()))
    record(admin, "household.transfer", household, on_date="2026-12-01", previous_owner_ids=[3], owner_ids=[4, 5])
    record(admin, "household.update", household, area_m2=["88.50", "90.25"], room=["0101", "1201"])
    record(admin, "proposal_settings.updated", None, threshold=30, previous_threshold=20, notice_days=7)
    record(admin, "meeting.decision_ballot", None, decision_id=7, ballot_id=8, issue_id=9, secret=True)
    db.session.commit()
    auth.login(admin)
    page = client.get("/admin/audit/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    labels = re.findall(r"<dt>(.*?)</dt>", page)
    assert len(labels) == 13  # with the IP address of the sign-in
    assert not [label for label in labels if _has_english(label)], labels
    for words in ("专有部分面积（m²）", "房号", "生效日期", "原业主", "业主", "附议门槛", "原附议门槛", "表决", "诉求",
                  "无记名投票"):
        assert f"<dt>{words}</dt>" in page, words
