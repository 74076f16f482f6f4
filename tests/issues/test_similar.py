"""Similar open issues: terms of a title (English words, Chinese character pairs) and the lookup."""
from datetime import timedelta

import pytest

from portal.clock import utcnow
from portal.extensions import db
from portal.issues import similar
from portal.issues.models import Issue, IssueCategory, IssueTerm, IssueTermCount
from tests.factories import gen_community, gen_user


def gen_plain_issue(community, title, *, status="submitted", support_count=0, submitted_at=None, reporter=None):
    """An issue written straight through the models (no services), with its terms indexed."""
    category = db.session.scalar(db.select(IssueCategory).where(IssueCategory.community_id == community.id))
    if category is None:
        category = IssueCategory(community=community, code="other", name="Other", respond_hours=24,
                                 resolve_hours=168)
        db.session.add(category)
    now = submitted_at or utcnow()
    issue = Issue(community=community, category=category, title=title, status=status,
                  reporter=reporter or gen_user(), support_count=support_count, submitted_at=now,
                  respond_by=now + timedelta(hours=24), resolve_by=now + timedelta(days=7))
    db.session.add(issue)
    db.session.flush()
    similar.index_issue(issue)
    return issue


# --- terms ---------------------------------------------------------------------------------------------

def test_english_words_are_lowercased_without_stop_words():
    assert similar.terms("The Lift in building 3 is BROKEN again") == {"lift", "building", "3", "broken"}


def test_one_letter_words_are_left_out_and_plurals_folded():
    assert similar.terms("a b lifts leaks glass") == {"lift", "leak", "glass"}


def test_chinese_is_split_into_words():
    assert similar.terms("电梯按钮失灵") == {"电梯", "按钮", "失灵"}
    assert {"3", "电梯"} <= similar.terms("3号楼电梯又坏了")


def test_a_civic_compound_is_a_word_and_so_are_its_parts():
    assert similar.terms("电梯停运了") == {"电梯停运", "电梯", "停运"}


def test_full_width_digits_and_letters_are_folded():
    assert {"3", "lift"} <= similar.terms("３号楼 ＬＩＦＴ")


def test_mixed_chinese_and_english():
    assert {"3", "lift"} <= similar.terms("B3栋lift坏了")


def test_terms_are_capped_at_32_characters():
    (term,) = similar.terms("x" * 50)
    assert len(term) == similar.TERM_MAX


# --- index ---------------------------------------------------------------------------------------------

def test_index_issue_replaces_the_terms(app):
    c = gen_community()
    issue = gen_plain_issue(c, "电梯坏了")
    issue.title = "Lift broken"
    similar.index_issue(issue)
    rows = db.session.scalars(db.select(IssueTerm).where(IssueTerm.issue_id == issue.id)).all()
    assert {r.term for r in rows} == {"lift", "broken"}
    assert {r.community_id for r in rows} == {c.id}


def _index_of(community_id):
    terms = sorted(db.session.execute(db.select(IssueTerm.issue_id, IssueTerm.term, IssueTerm.weight)
                                      .where(IssueTerm.community_id == community_id)).all())
    counts = sorted(db.session.execute(db.select(IssueTermCount.term, IssueTermCount.issues)
                                       .where(IssueTermCount.community_id == community_id,
                                              IssueTermCount.issues != 0)).all())
    return terms, counts


def test_maintained_index_equals_the_full_rebuild(app):
    c = gen_community()
    lift = gen_plain_issue(c, "3号楼电梯停运了")
    gen_plain_issue(c, "电梯按钮失灵 lift buttons")
    rubbish = gen_plain_issue(c, "垃圾分类没人管，垃圾桶满了")
    gen_plain_issue(c, "已经修好的路灯", status="resolved")
    lift.title = "电梯困人"
    similar.index_issue(lift)
    rubbish.status = "closed"
    similar.index_issue(rubbish)
    similar.index_issue(rubbish)  # twice: idempotent
    maintained = _index_of(c.id)
    assert dict(maintained[1])[similar.DOCS] == 2
    assert dict(maintained[1])["电梯"] == 2
    assert similar.rebuild_index(c.id) == 2
    assert _index_of(c.id) == maintained


def test_a_rare_word_weighs_more_than_a_common_one(app):
    c = gen_community()
    for n in range(6):
        gen_plain_issue(c, f"电梯又坏了{n}")
    stopped = gen_plain_issue(c, "楼道灯停运")
    assert similar.similar_open_issues(c, "电梯停运")[0] == stopped


# --- similar_open_issues -------------------------------------------------------------------------------

def test_a_lift_button_fault_finds_the_stopped_lift_by_meaning(app):
    c = gen_community()
    stopped = gen_plain_issue(c, "电梯停运")
    gen_plain_issue(c, "垃圾分类没人管")
    gen_plain_issue(c, "楼下有人飞线充电")
    assert similar.similar_open_issues(c, "电梯按钮失灵") == [stopped]


def test_chinese_title_finds_the_same_problem_and_not_an_unrelated_one(app):
    c = gen_community()
    lift = gen_plain_issue(c, "3号楼电梯又坏了")
    gen_plain_issue(c, "垃圾没人清运")
    assert similar.similar_open_issues(c, "电梯坏了") == [lift]


def test_english_title_finds_the_same_problem(app):
    c = gen_community()
    lift = gen_plain_issue(c, "The lift in building 3 is broken again")
    gen_plain_issue(c, "Rubbish not collected")
    assert similar.similar_open_issues(c, "lift broken") == [lift]


def test_same_building_alone_is_not_similar(app):
    c = gen_community()
    gen_plain_issue(c, "3号楼垃圾没人清运")
    gen_plain_issue(c, "Rubbish at building 3 not collected")
    assert similar.similar_open_issues(c, "3号楼电梯又坏了") == []
    assert similar.similar_open_issues(c, "The lift in building 3 is broken") == []


def test_a_long_title_finds_a_short_one_about_the_same_thing(app):
    c = gen_community()
    short = gen_plain_issue(c, "电梯坏了")
    assert similar.similar_open_issues(c, "3号楼电梯又坏了，困了两个人") == [short]


@pytest.mark.parametrize("status", ["resolved", "closed", "rejected", "duplicate"])
def test_issues_no_longer_open_never_show(app, status):
    c = gen_community()
    gen_plain_issue(c, "电梯坏了", status=status)
    assert similar.similar_open_issues(c, "电梯坏了") == []


def test_an_issue_no_longer_open_keeps_no_terms(app):
    c = gen_community()
    issue = gen_plain_issue(c, "电梯坏了")
    issue.status = "resolved"
    similar.index_issue(issue)
    assert not db.session.scalars(db.select(IssueTerm).where(IssueTerm.issue_id == issue.id)).all()
    issue.status = "reopened"
    similar.index_issue(issue)
    assert similar.similar_open_issues(c, "电梯坏了") == [issue]


def test_status_is_checked_even_when_terms_are_stale(app):
    c = gen_community()
    issue = gen_plain_issue(c, "电梯坏了")
    issue.status = "closed"  # not re-indexed
    db.session.flush()
    assert similar.similar_open_issues(c, "电梯坏了") == []


@pytest.mark.parametrize("status", ["submitted", "accepted", "in_progress", "reopened"])
def test_every_open_state_shows(app, status):
    c = gen_community()
    issue = gen_plain_issue(c, "电梯坏了", status=status)
    assert similar.similar_open_issues(c, "电梯坏了") == [issue]


def test_other_communities_never_show(app):
    c, other = gen_community(), gen_community()
    gen_plain_issue(other, "电梯坏了")
    assert similar.similar_open_issues(c, "电梯坏了") == []


def test_exclude_id_leaves_out_the_issue_itself(app):
    c = gen_community()
    issue = gen_plain_issue(c, "电梯坏了")
    other = gen_plain_issue(c, "2号楼电梯坏了")
    assert similar.similar_open_issues(c, "电梯坏了", exclude_id=issue.id) == [other]


def test_at_most_five_best_first(app):
    c = gen_community()
    start = utcnow() - timedelta(days=10)
    for title in ("垃圾没人清运", "路灯不亮", "楼道堆物", "噪音扰民", "停车位被占", "下水道堵了", "绿化带被毁",
                  "外墙渗水"):
        gen_plain_issue(c, title, submitted_at=start)
    older = [gen_plain_issue(c, f"电梯坏了 {n}号楼", submitted_at=start + timedelta(hours=n)) for n in range(1, 7)]
    supported = gen_plain_issue(c, "电梯坏了 9号楼", support_count=9, submitted_at=start)
    exact = gen_plain_issue(c, "电梯坏了没人修理", submitted_at=start)
    found = similar.similar_open_issues(c, "电梯坏了没人修理")
    assert len(found) == 5
    assert found[0] == exact            # shares every word
    assert found[1] == supported        # as similar as the rest, but supported
    assert found[2:] == [older[5], older[4], older[3]]  # then newest first
    assert len(similar.similar_open_issues(c, "电梯坏了", limit=3)) == 3


def test_order_by_support_when_equally_similar(app):
    c = gen_community()
    quiet = gen_plain_issue(c, "Lift broken at 2")
    popular = gen_plain_issue(c, "Lift broken at 5", support_count=4)
    assert similar.similar_open_issues(c, "lift broken") == [popular, quiet]


def test_a_bare_number_or_nothing_finds_nothing(app):
    c = gen_community()
    gen_plain_issue(c, "3号楼电梯坏了")
    assert similar.similar_open_issues(c, "3") == []
    assert similar.similar_open_issues(c, "3号楼") == []
    assert similar.similar_open_issues(c, "") == []
    assert similar.similar_open_issues(c, "the") == []


def test_a_single_word_finds_issues_with_it(app):
    c = gen_community()
    lift = gen_plain_issue(c, "Lift broken")
    gen_plain_issue(c, "Rubbish")
    assert similar.similar_open_issues(c, "lift") == [lift]
