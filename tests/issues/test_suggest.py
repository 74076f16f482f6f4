"""Category suggestion (issue #22): the keywords fallback, a model learned from the community's own
categorized issues, retraining when handlers re-categorize and each night, and the shell command."""
from datetime import UTC, datetime, timedelta

import pytest

from portal.due import run_due
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues import services
from portal.issues.models import CategoryModel, Issue, IssueCategory
from portal.issues.services import suggest
from tests.factories import gen_community, gen_user
from tests.records import audit

# Texts written for these tests (the evaluation data under tests/data is for the bench only).
LIFT = ["电梯坏了", "电梯门关不上", "电梯停在五楼不动", "电梯里灯不亮还晃", "电梯按钮按了没反应", "电梯困人半小时",
        "电梯异响咯噔咯噔", "电梯老是停运", "lift broken again", "电梯显示屏乱跳"]
WATER = ["停水了一整天", "水龙头出黄水", "水压太低洗不了澡", "自来水有怪味", "又停水了没通知", "水管没水",
         "二次供水水箱脏", "水发浑还有沉淀", "no water since morning", "自来水管出水很小"]
NOISE = ["楼上装修电钻声太吵", "广场舞音乐声太大", "半夜有人大声唱歌", "饭店排风机噪音大", "装修噪音扰民",
         "楼下KTV吵到凌晨", "工地晚上还在施工很吵", "邻居音响震天响", "loud music every night", "早上六点就砸墙"]


def _community():
    community = gen_community()
    services.ensure_default_categories(community)
    return community


def _category(community, code):
    return db.session.scalar(db.select(IssueCategory).where(IssueCategory.community_id == community.id,
                                                            IssueCategory.code == code))


def _issue(community, code, title, reporter):
    now = datetime(2026, 11, 1, tzinfo=UTC)
    issue = Issue(community=community, category=_category(community, code), title=title, status="submitted",
                  reporter=reporter, submitted_at=now, respond_by=now + timedelta(hours=24),
                  resolve_by=now + timedelta(days=7))
    db.session.add(issue)
    return issue


def _learned_community():
    community = _community()
    reporter = gen_user()
    for code, texts in (("lift", LIFT), ("water", WATER), ("noise", NOISE)):
        for text in texts:
            _issue(community, code, text, reporter)
    db.session.flush()
    return community


def _codes(community, text):
    return [code for code, _score in services.suggest_codes(community, text)]


def test_without_examples_the_keywords_decide(app):
    community = _community()
    suggest.train(community)
    assert db.session.scalar(db.select(CategoryModel.method).where(CategoryModel.community_id == community.id)) \
        == "keywords"
    assert _codes(community, "俺们楼的电梯停运了咋整")[0] == "lift"
    assert _codes(community, "楼下有人飞线充电")[0] == "security"
    assert _codes(community, "路灯坏了晚上黑")[0] == "lighting"
    assert _codes(community, "") == [] and _codes(community, "，，！") == []


def test_admins_keywords_change_the_fallback(app):
    community = _community()
    assert "pests" not in _codes(community, "蟑螂太多了")
    admin = gen_user(is_admin=True)
    other = _category(community, "other")
    services.update_category(admin, other, name=other.name, deadline_class=other.deadline_class,
                             respond_hours=other.respond_hours, resolve_hours=other.resolve_hours,
                             default_org=other.default_org, is_active=True, keywords="蟑螂，老鼠、 rats")
    assert other.keywords == "蟑螂, 老鼠, rats"
    assert _codes(community, "蟑螂太多了") == ["other"]
    assert audit("issue_category.updated")[-1].details["keywords"] == "蟑螂, 老鼠, rats"


def test_below_the_minimum_of_examples_it_falls_back_to_keywords(app):
    community = _community()
    reporter = gen_user()
    for text in LIFT[:suggest.MIN_EXAMPLES - 1]:
        _issue(community, "lift", text, reporter)
    for text in WATER:
        _issue(community, "water", text, reporter)
    db.session.flush()
    row = suggest.train(community)
    assert row.method == "keywords" and row.model is None and row.categories == 0


def test_a_model_learns_the_communitys_own_issues(app):
    community = _learned_community()
    row = suggest.train(community)
    assert row.method == "model" and row.model and row.examples == 30 and row.categories == 3
    assert _codes(community, "电梯又不动了")[0] == "lift"
    assert _codes(community, "家里没水用了")[0] == "water"
    assert _codes(community, "楼上太吵了睡不着")[0] == "noise"
    found = services.suggest_categories(community, "电梯又不动了")
    assert len(found) == 3 and found[0][1] >= found[1][1] >= found[2][1]
    assert all(isinstance(c, IssueCategory) for c, _s in found)


def test_an_inactive_category_is_never_suggested(app):
    community = _learned_community()
    suggest.train(community)
    _category(community, "lift").is_active = False
    db.session.flush()
    assert "lift" not in _codes(community, "电梯又不动了")


def test_recategorizing_marks_the_model_stale_and_run_due_learns_it(app):
    community = _learned_community()
    reporter = gen_user()
    pigeons = [_issue(community, "water", f"鸽子在{n}楼阳台做窝{'很脏' * (n % 2)}", reporter) for n in range(1, 9)]
    db.session.flush()
    suggest.train(community, now=datetime(2026, 12, 1, 4, tzinfo=UTC))
    assert _codes(community, "鸽子做窝")[0] == "water"
    handler = gen_user(is_admin=True)
    for issue in pigeons:
        services.recategorize_issue(handler, issue, _category(community, "noise"))
    row = db.session.scalar(db.select(CategoryModel).where(CategoryModel.community_id == community.id))
    assert row.stale
    assert audit("issue.recategorized")[-1].details == {"from_category": "water", "to_category": "noise"}
    assert pigeons[0].events[-1].kind == "recategorized"
    changed = run_due(datetime(2026, 12, 1, 6, tzinfo=UTC))["issues_category_models"]  # 14:00 in Shanghai
    assert changed >= 1
    db.session.refresh(row)
    assert not row.stale and row.trained_at == datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert _codes(community, "鸽子做窝")[0] == "noise"


def test_only_handlers_recategorize_and_only_to_another_active_category(app):
    community = _learned_community()
    issue = db.session.scalar(db.select(Issue).where(Issue.community_id == community.id).limit(1))
    with pytest.raises(NotAllowed):
        services.recategorize_issue(gen_user(), issue, _category(community, "noise"))
    admin = gen_user(is_admin=True)
    with pytest.raises(DomainError):
        services.recategorize_issue(admin, issue, issue.category)
    with pytest.raises(DomainError):
        services.recategorize_issue(admin, issue, _category(_community(), "noise"))


def test_the_nightly_training_runs_once_a_night_in_the_communitys_zone(app):
    community = _learned_community()
    trained = datetime(2026, 12, 1, 19, tzinfo=UTC)  # 03:00 in Shanghai
    suggest.train(community, now=trained)
    assert suggest.retrain_due(trained + timedelta(hours=12)) == 0  # 15:00 there: not night, not stale
    assert suggest.retrain_due(trained + timedelta(hours=23)) == 1  # 02:00 there, a day old: trained
    assert suggest.retrain_due(trained + timedelta(hours=24)) == 0  # an hour old
    row = db.session.scalar(db.select(CategoryModel).where(CategoryModel.community_id == community.id))
    assert row.trained_at == trained + timedelta(hours=23)


def test_a_community_without_a_model_gets_one_on_the_next_run(app):
    community = _learned_community()
    assert suggest.retrain_due(datetime(2026, 12, 1, 6, tzinfo=UTC)) == 1
    assert suggest.retrain_due(datetime(2026, 12, 1, 6, tzinfo=UTC)) == 0
    assert db.session.scalar(db.select(CategoryModel.method).where(CategoryModel.community_id == community.id)) \
        == "model"


def test_the_shell_command_prints_the_top_three_codes_with_scores(runner):
    community = _learned_community()
    suggest.train(community)
    db.session.commit()
    result = runner.invoke(args=["suggest-category", community.slug, "电梯又不动了"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == f"{community.slug} (model)"
    codes = [line.split("\t")[0] for line in lines[1:]]
    assert len(codes) == 3 and codes[0] == "lift"
    assert all(0 <= float(line.split("\t")[1]) <= 1 for line in lines[1:])
    assert runner.invoke(args=["suggest-category", "no-such-place", "x"]).exit_code != 0
