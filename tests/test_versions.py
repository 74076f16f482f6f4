"""A community's version changes with every tracked row of the community, in the same transaction, however
the row is written; what pages keep under it is therefore never stale (portal.versions)."""
from datetime import timedelta

import pytest
from sqlalchemy import text

from portal import versions
from portal.clock import utcnow
from portal.committees.models import Organization
from portal.extensions import db
from portal.issues.models import Issue, IssueCategory
from portal.places.models import Building, Community, Estate, Household
from portal.sharing import ShortLink
from tests.factories import (
    gen_building,
    gen_community,
    gen_household,
    gen_organization,
    gen_sub_district,
    gen_user,
)
from tests.meetings.conftest import issues_world, proposals_world, world  # noqa: F401  (the votes world)


@pytest.fixture
def two():
    x = gen_community(slug="huajiadi", name="花家地社区")
    y = gen_community(slug="nanhu", name="南湖社区")
    building = gen_building(x, code="3", name="3号楼")
    gen_household(building, room="101")
    other = gen_building(y, code="1", name="1号楼")
    db.session.commit()
    return x, y, building, other


def version(community) -> int:
    return db.session.scalar(db.select(Community.content_version).where(Community.id == community.id))


def versions_after(change, *communities):
    """(before, after) versions of each community around change() and a commit."""
    before = [version(c) for c in communities]
    change()
    db.session.commit()
    return before, [version(c) for c in communities]


def test_a_new_community_has_a_random_version_of_its_own():
    a, b = gen_community(), gen_community()
    db.session.commit()
    assert a.content_version != b.content_version
    assert all(0 <= v < 2 ** 62 for v in (a.content_version, b.content_version))


@pytest.mark.parametrize("change", [
    "rename building", "add building", "delete building", "add household", "delete household",
    "rename community", "add organization", "rename category", "add estate",
])
def test_a_change_to_a_tracked_row_changes_its_community_version_only(two, change):
    x, y, building, _other = two
    category = IssueCategory(community=x, code="lift", name="电梯", respond_hours=4, resolve_hours=48)
    db.session.add(category)
    db.session.commit()
    household = db.session.scalar(db.select(Household).where(Household.building_id == building.id))
    spare = gen_building(x, code="8")
    db.session.commit()

    def run():
        if change == "rename building":
            building.name = "3号楼（东）"
        elif change == "add building":
            gen_building(x, code="9")
        elif change == "delete building":
            db.session.delete(spare)
        elif change == "add household":
            gen_household(building, room="102")
        elif change == "delete household":
            db.session.expire(household)  # its building not loaded: read from the database
            db.session.delete(household)
        elif change == "rename community":
            x.name = "花家地"
        elif change == "add organization":
            gen_organization("property_company", community=x)
        elif change == "rename category":
            category.name = "电梯故障"
        elif change == "add estate":
            db.session.add(Estate(community=x, name="南区"))

    (x_before, y_before), (x_after, y_after) = versions_after(run, x, y)
    assert x_after != x_before
    assert y_after == y_before


def test_untracked_rows_and_rows_of_no_community_change_no_version(two):
    x, y, _building, _other = two
    gen_organization("department", sub_district=gen_sub_district())  # a sub-district's, no community
    db.session.add(ShortLink(code="abc123", kind="issue", target_id=1))  # a short link: nothing kept reads it
    before, after = versions_after(lambda: None, x, y)
    assert after == before


@pytest.mark.parametrize("change", ["rename", "delete, not loaded", "move to another sub-district"])
def test_a_sub_district_department_changes_every_community_of_its_sub_district(two, change):
    """A department has no community: its name is on the pages (tracker, dashboard) of all of them."""
    x, y, _building, _other = two
    z = gen_community(sub_district=x.sub_district)
    department = gen_organization("department", sub_district=x.sub_district)
    db.session.commit()

    def run():
        if change == "rename":
            department.name = "城管科"
        elif change == "delete, not loaded":
            db.session.expire(department)
            db.session.delete(department)
        else:
            department.sub_district_id = y.sub_district_id

    before, after = versions_after(run, x, y, z)
    assert after[0] != before[0] and after[2] != before[2]
    assert (after[1] != before[1]) == (change == "move to another sub-district")


def test_a_new_issue_changes_its_community_version(two):
    x, y, _building, _other = two
    category = IssueCategory(community=x, code="lift", name="电梯", respond_hours=4, resolve_hours=48)
    db.session.add(category)
    db.session.commit()
    now = utcnow()

    def report():
        db.session.add(Issue(community=x, category=category, reporter=gen_user(), title="电梯坏了",
                             description="三号楼电梯停在五层。", respond_by=now + timedelta(hours=4),
                             resolve_by=now + timedelta(hours=48)))

    before, after = versions_after(report, x, y)
    assert after[0] != before[0] and after[1] == before[1]


@pytest.mark.parametrize("loaded", [True, False])
def test_moving_a_building_changes_both_communities(two, loaded):
    x, y, building, _other = two
    if loaded:
        assert building.community_id == x.id
    before, after = versions_after(lambda: setattr(building, "community_id", y.id), x, y)
    assert after[0] != before[0] and after[1] != before[1]


def test_moving_a_household_changes_both_communities(two):
    x, y, building, other = two
    household = db.session.scalar(db.select(Household).where(Household.building_id == building.id))
    before, after = versions_after(lambda: setattr(household, "building_id", other.id), x, y)
    assert after[0] != before[0] and after[1] != before[1]


@pytest.mark.parametrize("statement, changes", [
    ("orm update", "y"), ("orm delete", "y"), ("orm update, no where", "both"), ("orm update, moving", "both"),
    ("orm delete, nothing", "none"), ("sql text", "both"),
])
def test_bulk_writes_change_the_versions_of_the_rows_communities(two, statement, changes):
    """A bulk UPDATE or DELETE reads the communities of the rows it will write first (every community when
    it cannot tell); SQL text that writes a tracked table changes every community's version."""
    x, y, _building, other = two

    def run():
        if statement == "orm update":
            db.session.execute(db.update(Building).where(Building.id == other.id).values(name="一号楼"))
        elif statement == "orm delete":
            db.session.execute(db.delete(Building).where(Building.id == other.id))
        elif statement == "orm update, no where":
            db.session.execute(db.update(Organization).values(name=Organization.name))
        elif statement == "orm update, moving":
            db.session.execute(db.update(Building).where(Building.id == other.id).values(community_id=x.id))
        elif statement == "orm delete, nothing":
            db.session.execute(db.delete(Organization).where(Organization.id == -1))
        else:
            db.session.execute(text("UPDATE building SET name = 'x' WHERE id = -1"))

    before, after = versions_after(run, x, y)
    changed = {name for name, b, a in zip("xy", before, after, strict=True) if a != b}
    assert changed == {"none": set(), "y": {"y"}, "both": {"x", "y"}}[changes]


def test_a_rolled_back_change_keeps_the_version(two):
    x, _y, building, _other = two
    before = version(x)
    building.name = "改名"
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert version(x) == before


def test_a_change_pending_at_commit_is_seen(two):
    """The commit's own flush (after the before_commit hook would first look) still changes the version."""
    x, _y, building, _other = two
    before = version(x)
    building.name = "不先 flush"
    db.session.commit()
    assert version(x) != before


def test_a_released_savepoint_changes_the_version_with_the_transaction(two):
    x, _y, building, _other = two
    before = version(x)
    with db.session.begin_nested():
        building.name = "保存点"
    db.session.commit()
    assert version(x) != before


def test_a_rolled_back_savepoint_keeps_changes_made_before_it(two):
    x, y, building, other = two
    before = [version(x), version(y)]
    building.name = "保存点之前"
    db.session.flush()
    nested = db.session.begin_nested()
    other.name = "撤回"
    db.session.flush()
    nested.rollback()
    db.session.commit()
    assert version(x) != before[0]


def building_names(community, calls):
    """compute() for remember(): the community's building names, counting its calls in `calls`."""
    def compute():
        calls.append(1)
        return tuple(db.session.scalars(db.select(Building.name).where(Building.community_id == community.id)))
    return compute


def test_remember_keeps_a_value_until_the_version_changes(two):
    x, _y, building, _other = two
    calls = []
    compute = building_names(x, calls)

    def read():
        db.session.expire_all()
        community = db.session.get(Community, x.id)
        return versions.remember("test_names", community, compute)

    assert read() == ("3号楼",) and read() == ("3号楼",) and len(calls) == 1
    building = db.session.get(Building, building.id)
    building.name = "3号楼（新）"
    db.session.commit()
    assert read() == ("3号楼（新）",) and len(calls) == 2


def test_remember_keeps_one_entry_per_page_at_its_latest_version(two):
    """An entry of a version no request will ask for again is dropped when the next version's is kept."""
    x, y, building, _other = two
    calls = []

    def read(community, name="test_latest"):
        db.session.expire_all()
        return versions.remember(name, db.session.get(Community, community.id), building_names(community, calls))

    for n in range(3):
        db.session.get(Building, building.id).name = f"{n}号楼"
        db.session.commit()
        assert read(x) == (f"{n}号楼",)
    assert read(y) == ("1号楼",)
    assert len([k for k in versions._entries if k[0] == "test_latest"]) == 2 and len(calls) == 4
    assert read(x) == ("2号楼",) and len(calls) == 4


def test_remember_keeps_nothing_a_transaction_computed_after_writing(two):
    """What a transaction reads after changing a tracked row may be rolled back: it is not kept."""
    x, _y, building, _other = two
    calls = []
    compute = building_names(x, calls)
    building.name = "未提交"
    db.session.flush()
    community = db.session.get(Community, x.id)
    assert versions.remember("test_uncommitted", community, compute) == ("未提交",)
    db.session.rollback()
    community = db.session.get(Community, x.id)
    assert versions.remember("test_uncommitted", community, compute) == ("3号楼",)
    assert len(calls) == 2


def test_one_persons_values_are_kept_apart_from_the_pages_everyone_reads(two, monkeypatch):
    """Many people active at once fill their own LRU, never pushing a shared page out."""
    x, _y, _building, _other = two
    calls = []
    community = db.session.get(Community, x.id)
    monkeypatch.setattr(versions, "MAX_PERSONAL", 5)
    assert versions.remember("test_shared", community, building_names(x, calls)) == ("3号楼",)
    for person in range(versions.MAX_ENTRIES + 10):
        versions.remember("test_personal", community, lambda p=person: p, person=person)
    assert len(versions._personal) == 5 and ("test_personal", x.id, 0) not in versions._personal
    assert versions.remember("test_shared", community, building_names(x, calls)) == ("3号楼",)
    assert len(calls) == 1
    assert versions.remember("test_personal", community, lambda: "again", person=versions.MAX_ENTRIES + 9) == \
        versions.MAX_ENTRIES + 9  # kept for that person


def test_tracked_tables_are_the_ones_kept_values_read():
    assert versions.tracked_tables() == {"community", "building", "household", "organization", "issue_category",
                                         "issue", "action", "meeting", "ballot", "proposal", "proposal_comment",
                                         "chase", "issue_summons", "action_summons", "estate", "ballot_scope",
                                         "public_notice", "notice_objection", "issue_photo", "short_link",
                                         "issue_event", "user", "proposal_event",
                                         "moderation_flag", "proposal_attachment"}


def test_only_the_tracked_columns_of_a_ballot_count(world):
    """A ballot's running totals change with every vote; the calendar reads only its question and times."""
    from tests.votes import gen_ballot
    ballot = gen_ballot(world)
    db.session.commit()
    before = version(world.x)
    ballot.voted_count = type(ballot).voted_count + 1  # as a cast keeps its running totals
    ballot.log_length = type(ballot).log_length + 1
    db.session.commit()
    assert version(world.x) == before
    db.session.execute(db.update(type(ballot)).where(type(ballot).id == ballot.id).values(voted_count=0))
    db.session.commit()
    assert version(world.x) == before
    ballot.question = "换电梯吗？"
    db.session.commit()
    assert version(world.x) != before
    before = version(world.x)
    db.session.execute(db.update(type(ballot)).where(type(ballot).id == ballot.id).values(
        closes_at=ballot.closes_at))  # a bulk update of a tracked column: every community's version
    db.session.commit()
    assert version(world.x) != before


def test_a_proposals_likes_version_alone_changes_no_version(world):
    """A like changes its proposal's likes_version (the consultation keeps its like counts under it) in a bulk
    UPDATE and no community's version; any other change to the proposal, a count set by SQL, its buildings, a
    bulk UPDATE of another column with it, still does."""
    from portal.proposals import services
    from portal.proposals.models import Proposal
    from tests.proposals import gen_comment, gen_in_deliberation
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, author=world.supporters[0])
    db.session.commit()
    before, likes = version(world.x), proposal.likes_version
    services.like_comment(world.neighbour, comment)  # a bulk UPDATE of the proposal's likes_version
    db.session.commit()
    db.session.refresh(proposal)
    assert version(world.x) == before and proposal.likes_version != likes
    proposal.likes_version = versions.new_version()
    proposal.support_count = Proposal.support_count + 0  # through the ORM, with a column set by SQL
    db.session.commit()
    assert version(world.x) != before
    before = version(world.x)
    proposal.buildings = [] if proposal.buildings else [world.b5]  # only a collection
    db.session.commit()
    assert version(world.x) != before
    before = version(world.x)
    db.session.execute(db.update(Proposal).where(Proposal.id == proposal.id).values(
        likes_version=versions.new_version(), comment_count=Proposal.comment_count))
    db.session.commit()
    assert version(world.x) != before


def test_renew_versions_reads_every_community_afresh(two, runner):
    x, y, _building, _other = two
    before = [version(x), version(y)]
    db.session.commit()
    result = runner.invoke(args=["renew-versions"])
    assert result.exit_code == 0 and "renewed" in result.output
    db.session.expire_all()
    assert version(x) != before[0] and version(y) != before[1]
