"""The hotspot table's “Why” column is 判定依据 (the rule that flagged it) in Chinese, on the page and in the
export: a message context keeps it apart from the privacy notice's “Why” (用途)."""
from tests.dashboard.conftest import add_issues

ZH = {"Accept-Language": "zh-CN"}


def test_the_hotspot_reason_column_is_panding_yiju_on_the_page_and_in_the_export(client, auth, world):
    add_issues(world, 3, category="water")
    auth.login(world.official_a)
    page = client.get("/dashboard", headers=ZH).get_data(as_text=True)
    assert "判定依据" in page and "用途" not in page
    export = client.get("/dashboard/export?format=csv", headers=ZH).data.decode("utf-8")
    assert "判定依据" in export and "用途" not in export
    assert "用途" in client.get("/privacy", headers=ZH).get_data(as_text=True)
