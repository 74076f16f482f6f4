"""Hot statements read plain columns and make persistent objects of the rows themselves (extensions.loaded):
the ballot page's ballot (services.ballot_at), the vote block (services.vote_block) and the person on every
signed-in request (auth.roles.read_person). What they give must be what an ORM query gave: the same values,
the same objects for the same rows, nothing to flush, relationships and expired attributes loaded on access,
changes written as usual."""
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from portal.auth import roles
from portal.auth.models import User
from portal.committees.models import Organization, OrgMembership
from portal.extensions import db, loaded, width
from portal.votes import services
from portal.votes.models import Ballot, BallotProxy, BallotVote, BallotVoter
from tests.queries import recorded_statements
from tests.votes import gen_ballot, vote


def columns(obj):
    return {attr.key: getattr(obj, attr.key) for attr in inspect(type(obj)).column_attrs}


def queried(model, id_):
    """The row as an ORM query reads it, in a session of its own."""
    with Session(db.engine) as session:
        return columns(session.get(model, id_))


def test_the_ballot_page_ballot_is_what_a_query_gave(world):
    ballot = gen_ballot(world, "owners")
    vote(world.owner_a, ballot, "yes")
    db.session.commit()
    expected = {model: queried(model, id_) for model, id_ in (
        (Ballot, ballot.id), (type(ballot.community), ballot.community_id))}
    expected_options = [(o.id, o.position, o.label) for o in sorted(ballot.options, key=lambda o: o.position)]
    proposal_id, organization_id, slug, ballot_id = ballot.proposal_id, ballot.organization_id, \
        ballot.community.slug, ballot.id
    db.session.expunge_all()  # nothing loaded: every object is made from the statement's rows

    found = services.ballot_at(slug, ballot_id)
    state = inspect(found)
    assert state.persistent and not state.modified and found in db.session
    assert columns(found) == expected[Ballot]
    with recorded_statements() as statements:  # everything the page reads of it came with it
        assert columns(found.community) == expected[type(ballot.community)]
        assert [(o.id, o.position, o.label) for o in found.options] == expected_options
        assert found.proposal.id == proposal_id and found.organization.id == organization_id
        assert db.session.get(Ballot, ballot_id) is found  # the identity map has it
        assert found.options[0].ballot is found
        db.session.flush()  # nothing to write
    assert statements == []
    assert not db.session.dirty and not db.session.new


def test_what_a_query_already_loaded_is_returned_as_it_is(world):
    ballot = gen_ballot(world, "committee")
    db.session.commit()
    slug = ballot.community.slug
    earlier = db.session.get(Ballot, ballot.id)
    earlier.question = "Changed but not flushed"
    db.session.expire(earlier, ["closes_at"])
    assert services.ballot_at(slug, ballot.id) is earlier
    assert earlier.question == "Changed but not flushed"  # as a query without populate_existing keeps it
    assert earlier.closes_at is not None  # an expired attribute loads on access
    db.session.rollback()


def test_a_loaded_ballot_changes_expires_and_loads_relationships_as_a_queried_one(world):
    ballot = gen_ballot(world, "committee")
    db.session.commit()
    ballot_id, scope_ids, opener_id = ballot.id, [row.id for row in ballot.scope_rows], ballot.opened_by_id
    slug = ballot.community.slug
    db.session.expunge_all()

    found = services.ballot_at(slug, ballot_id)
    with recorded_statements() as statements:
        found.question = "A clearer question"
        db.session.commit()
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE BALLOT ")]
    assert len(updates) == 1 and "question" in updates[0] and "status" not in updates[0]  # only what changed
    assert db.session.scalar(select(Ballot.question).where(Ballot.id == ballot_id)) == "A clearer question"
    assert found.question == "A clearer question"  # expired by the commit, read again
    assert [row.id for row in found.scope_rows] == scope_ids  # a relationship not read with it: lazy
    assert (found.opened_by.id if found.opened_by else None) == opener_id


def test_no_such_ballot_and_an_outer_join_without_a_row_read_none(world):
    ballot = gen_ballot(world, "committee")
    db.session.commit()
    slug, ballot_id = ballot.community.slug, ballot.id
    assert loaded(Organization, [None] * width(Organization)) is None  # an outer join that found no row
    assert services.ballot_at(slug, ballot_id + 1000) is None
    assert services.ballot_at("no-such-community", ballot_id) is None
    assert services.ballot_at(slug, ballot_id) is ballot


def test_the_vote_block_objects_are_the_queried_ones(world):
    from tests.votes.test_proxies import authorize
    ballot = gen_ballot(world, "owners")
    proxy = authorize(world, ballot, world.owners_more[1], world.owners_more[2])
    vote(world.owner_a, ballot, "yes")
    db.session.commit()
    expected = [(queried(BallotVoter, voter.id), queried(BallotVote, v.id) if v else None)
                for voter, v in services.vote_block(world.owner_a, ballot).mine]
    proxy_values = queried(BallotProxy, proxy.id)
    ballot = db.session.get(Ballot, ballot.id)

    block = services.vote_block(world.owner_a, ballot)
    assert [(columns(voter), columns(v) if v else None) for voter, v in block.mine] == expected
    for voter, v in block.mine:
        assert db.session.get(BallotVoter, voter.id) is voter and not inspect(voter).modified
        assert v is None or db.session.get(BallotVote, v.id) is v
    granted = services.vote_block(world.owners_more[1], ballot).granted
    assert [columns(p) for p in granted.values()] == [proxy_values]
    assert db.session.get(BallotProxy, proxy.id) is next(iter(granted.values()))


def test_the_person_is_what_a_query_gave_with_memberships_and_residencies(world):
    from portal.clock import utcnow
    chair = world.chair_x
    db.session.commit()
    chair_id = chair.id
    user_values = queried(User, chair.id)
    memberships = {m.id: (columns(m), columns(m.organization))
                   for m in db.session.scalars(select(OrgMembership).where(OrgMembership.user_id == chair_id))
                   if m.start_date <= roles.today() and (m.end_date is None or m.end_date >= roles.today())}
    assert memberships  # a chair is a member of their committee
    statement = roles.person_statement()
    from portal.auth.models import SignedInSession
    session_row = SignedInSession(user_id=chair_id, key_digest="d" * 64, created_at=utcnow())
    db.session.add(session_row)
    db.session.commit()
    db.session.expunge_all()
    params = {"user_id": chair_id, "today": roles.today(), "digest": "d" * 64, "since": utcnow().replace(year=2000)}
    user, found, residencies, unread = roles.read_person(db.session.execute(statement, params).all())
    assert columns(user) == user_values and not inspect(user).modified
    with recorded_statements() as statements:
        assert {m.id: (columns(m), columns(m.organization)) for m in found} == memberships
    assert statements == []
    assert isinstance(residencies, dict) and unread >= 0
    assert roles.read_person(db.session.execute(statement, {**params, "digest": "e" * 64}).all()) is None
