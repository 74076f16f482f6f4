"""Similar open issues: terms of a title (English words, Chinese character pairs) and the lookup."""
from datetime import timedelta

import pytest

from portal.clock import utcnow
from portal.extensions import db
from portal.issues import similar
from portal.issues.models import Issue, IssueCategory, IssueTerm
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


def test_chinese_runs_become_character_pairs():
    assert similar.terms("电梯坏了") == {"电梯", "梯坏"}
    assert similar.terms("3号楼电梯又坏了") == {"3", "号楼", "楼电", "电梯", "梯坏"}


def test_a_lone_chinese_character_is_a_term():
    assert similar.terms("3号 楼 漏水") == {"3", "号", "楼", "漏水"}


def test_full_width_digits_and_letters_are_folded():
    assert similar.terms("３号楼 ＬＩＦＴ") == {"3", "号楼", "lift"}


def test_mixed_chinese_and_english():
    assert similar.terms("B3栋lift坏了") == {"3", "栋", "lift", "坏"}


def test_terms_are_capped_at_32_characters():
    (term,) = similar.terms("x" * 50)
    assert len(term) == similar.TERM_MAX


def test_empty_text_has_no_terms():
    assert similar.terms("") == set()
    assert similar.terms(None) == set()
    assert similar.terms("!!! ，。") == set()


# --- index ---------------------------------------------------------------------------------------------

def test_index_issue_replaces_the_terms(app):
    c = gen_community()
    issue = gen_plain_issue(c, "电梯坏了")
    issue.title = "Lift broken"
    similar.index_issue(issue)
    rows = db.session.scalars(db.select(IssueTerm).where(IssueTerm.issue_id == issue.id)).all()
    assert {r.term for r in rows} == {"lift", "broken"}
    assert {r.community_id for r in rows} == {c.id}


# --- similar_open_issues -------------------------------------------------------------------------------

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
    older = [gen_plain_issue(c, f"{n}号电梯坏了没人", submitted_at=start + timedelta(hours=n)) for n in range(1, 7)]
    supported = gen_plain_issue(c, "电梯坏了没人修", support_count=9, submitted_at=start)
    exact = gen_plain_issue(c, "电梯坏了没人修理", submitted_at=start)
    found = similar.similar_open_issues(c, "电梯坏了没人修理")
    assert len(found) == 5
    assert found[0] == exact            # shares every term
    assert found[1] == supported        # shares fewer, but more than the rest
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
    assert similar.similar_open_issues(c, "") == []
    assert similar.similar_open_issues(c, "the") == []


def test_a_single_word_finds_issues_with_it(app):
    c = gen_community()
    lift = gen_plain_issue(c, "Lift broken")
    gen_plain_issue(c, "Rubbish")
    assert similar.similar_open_issues(c, "lift") == [lift]
