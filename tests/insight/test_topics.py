"""Topics of the month (每月一题): a hand-made month with known groups (飞线充电, lifts, rubbish sorting and a few
English texts about dog mess) comes out as those groups, across communities and categories, with their words,
representative, communities and six-month trend; the run-due step runs once a month. Runs on SQLite and,
with TEST_DATABASE_URL, PostgreSQL."""
from datetime import UTC, datetime, timedelta

from portal.due import run_due
from portal.extensions import db
from portal.insight import topics as T
from portal.insight.models import Topic, TopicIssue, TopicRun
from portal.issues.models import Issue
from tests.issues import gen_issue

NOW = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)  # 1 July 2026, 10:00 in Shanghai
JUNE = 2026 * 12 + 5
IN_JUNE = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)

CHARGING = ["3号楼楼道有人飞线充电", "电动车从窗口拉电线飞线充电很危险", "5单元又有飞线充电，电瓶车在楼下充",
            "楼下飞线充电电线挂在树上", "飞线充电太危险了，晚上还在拉线"]
LIFTS = ["电梯停运两天了", "2号楼电梯按钮失灵", "电梯困人，物业不来", "电梯异响很吓人", "电梯又坏了停运"]
SORTING = ["垃圾分类投放混乱", "垃圾分类桶不够，厨余垃圾没人分", "小区垃圾分类没人管", "垃圾分类宣传不到位"]
DOGS = ["Dog poo all over the lawn", "Dogs off the leash and dog poo near the playground",
        "Someone never picks up their dog poo", "dog poo on the footpath again"]


def hand_made_month(w):
    """The four groups in June, spread over communities x and y and over categories (a charging text filed
    under lifts, a dog text under rubbish): the grouping must follow the words, not the category."""
    made = {}
    for n, title in enumerate(CHARGING):
        made[title] = gen_issue(w, title=title, category="security" if n != 2 else "lift",
                                community=w.y if n % 2 else w.x, reporter=w.resident_y if n % 2 else w.reporter,
                                now=IN_JUNE + timedelta(hours=n))
    for n, title in enumerate(LIFTS):
        made[title] = gen_issue(w, title=title, category="lift", now=IN_JUNE + timedelta(days=1, hours=n))
    for n, title in enumerate(SORTING):
        made[title] = gen_issue(w, title=title, category="rubbish", now=IN_JUNE + timedelta(days=2, hours=n))
    for n, title in enumerate(DOGS):
        made[title] = gen_issue(w, title=title, category="rubbish" if n == 0 else "other",
                                now=IN_JUNE + timedelta(days=3, hours=n))
    # Earlier months for the trend: two charging issues in April, one lift issue in May; a duplicate-free July
    # issue that belongs to no month grouped now.
    gen_issue(w, title="楼道飞线充电", category="security", now=datetime(2026, 4, 5, 3, tzinfo=UTC))
    gen_issue(w, title="窗口拉线飞线充电", category="security", now=datetime(2026, 4, 6, 3, tzinfo=UTC))
    gen_issue(w, title="电梯停运", category="lift", now=datetime(2026, 5, 6, 3, tzinfo=UTC))
    db.session.commit()
    return made


def _groups():
    found = {}
    for topic in db.session.scalars(db.select(Topic).where(Topic.month == JUNE)):
        titles = frozenset(db.session.scalars(db.select(Issue.title).join(TopicIssue, TopicIssue.issue_id == Issue.id)
                                              .where(TopicIssue.topic_id == topic.id)))
        found[titles] = topic
    return found


def test_a_hand_made_month_comes_out_as_its_groups(world):
    w = world
    hand_made_month(w)
    assert T.run_topics(NOW) == 2  # both sub-districts grouped (B has nothing to group)
    groups = _groups()
    assert set(groups) == {frozenset(CHARGING), frozenset(LIFTS), frozenset(SORTING), frozenset(DOGS)}
    charging = groups[frozenset(CHARGING)]
    assert charging.sub_district_id == w.sd_a.id and charging.issues == 5
    assert charging.word_list[0] == "飞线充电"  # a compound stands for its parts
    assert charging.community_ids == sorted([w.x.id, w.y.id])
    assert charging.category_code == "security"
    assert db.session.get(Issue, charging.representative_id).title in CHARGING
    assert charging.trend == [0, 0, 0, 2, 0, 5]  # January … June: two in April
    lifts = groups[frozenset(LIFTS)]
    assert "电梯" in lifts.word_list and lifts.trend == [0, 0, 0, 0, 1, 5]
    assert lifts.community_ids == [w.x.id]
    assert "dog" in groups[frozenset(DOGS)].word_list
    run = db.session.get(TopicRun, (w.sd_a.id, JUNE))
    assert run.issues == 18 and run.topics == 4
    empty = db.session.get(TopicRun, (w.sd_b.id, JUNE))
    assert empty.issues == 0 and empty.topics == 0


def test_the_run_due_step_runs_once_a_month(world):
    w = world
    hand_made_month(w)
    assert run_due(NOW)["insight_topics"] == 2
    ids = sorted(db.session.scalars(db.select(Topic.id)))
    assert run_due(NOW + timedelta(days=3))["insight_topics"] == 0  # the same month again: nothing
    assert sorted(db.session.scalars(db.select(Topic.id))) == ids
    assert run_due(NOW + timedelta(days=31))["insight_topics"] == 2  # August: July grouped
    assert db.session.scalar(db.select(db.func.count()).select_from(TopicRun)) == 4


def test_too_little_to_group_gives_no_topic():
    assert T.group([]) is None
    assert T.group([("电梯",)]) is None
    assert T.group([(), ()]) is None


def test_numbers_and_words_of_place_do_not_make_a_topic():
    assert "3" not in T.topic_terms("3号楼电梯") and "号楼" not in T.topic_terms("3号楼电梯")
