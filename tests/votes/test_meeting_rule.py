"""The residents' meeting rule (居民会议, Organic Law of Urban Residents' Committees art. 10; issue #19): chosen
when a residents' vote is opened, stored on the ballot, counted at close and by the running totals alike —
more than half of the frozen electorate must take part, and more than half of those taking part (abstentions
in the base) must vote yes. The simple rule (quorum with ≥, abstentions left out) is unchanged.

x's residents' electorate is 14 verified adults (tests/votes/__init__.py): 7 is exactly half, 8 just over."""
from datetime import timedelta
from html import unescape
from types import SimpleNamespace

import pytest

from portal.clock import utcnow
from portal.errors import DomainError
from portal.extensions import db
from portal.votes import counting, services
from portal.votes.models import Ballot
from portal.votes.totals import running_figures
from tests.proposals import gen_in_deliberation
from tests.residents import post
from tests.votes import RESIDENTS_PERSONS, gen_ballot, vote

YES_NO = [SimpleNamespace(id=1, code="yes"), SimpleNamespace(id=2, code="no"), SimpleNamespace(id=3, code="abstain")]


def meeting(**kw):
    return SimpleNamespace(method="residents", matter=None, threshold=None, quorum_percent=None, at_least_half=False,
                           resident_rule="meeting", options=YES_NO, **kw)


def figures(electorate, yes=0, no=0, abstain=0):
    return counting.Figures(electorate, 0, yes + no + abstain, 0,
                            {i: (n, 0) for i, n in ((1, yes), (2, no), (3, abstain)) if n})


# --- counting: pure ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("electorate, yes, no, abstain, result, why", [
    (14, 7, 0, 0, "no_quorum", "exactly half take part: not quorate"),
    (14, 8, 0, 0, "passed", "just over half take part"),
    (15, 7, 0, 0, "no_quorum", "7 of 15 is under half"),
    (15, 8, 0, 0, "passed", "8 of 15 is over half"),
    (14, 4, 3, 1, "failed", "yes is exactly half of those taking part, abstention in the base"),
    (14, 5, 2, 1, "passed", "yes is just over half of those taking part"),
    (14, 4, 0, 4, "failed", "abstentions count against: 4 of 8"),
    (14, 5, 4, 0, "passed", "5 of 9"),
])
def test_the_meeting_rule_needs_more_than_half_taking_part_and_more_than_half_of_them(
        electorate, yes, no, abstain, result, why):
    got, details = counting.decide(meeting(), figures(electorate, yes, no, abstain))
    assert got == result, why
    assert details["rule"] == "residents_meeting" and details["yes_base"] == "voted"
    assert details["quorum_needed"] == electorate // 2 + 1
    assert details["yes_needed"] == (yes + no + abstain) // 2 + 1


def test_the_simple_rule_is_unchanged_on_the_same_figures():
    simple = SimpleNamespace(**{**vars(meeting()), "resident_rule": "simple", "quorum_percent": 50,
                                "threshold": "simple"})
    assert counting.decide(simple, figures(14, 7))[0] == "passed"  # ≥ 50 %: quorate at exactly half
    result, details = counting.decide(simple, figures(14, 4, 3, 1))  # abstention left out: 4 of 7
    assert result == "passed" and details["rule"] == "simple" and details["yes_base"] == "yes_no"
    legacy = SimpleNamespace(**{k: v for k, v in vars(simple).items() if k != "resident_rule"})
    assert counting.decide(legacy, figures(14, 4, 3, 1))[0] == "passed"  # no rule given reads as simple


# --- the services, on the database --------------------------------------------------------------------------

def _residents(world):
    people = [world.reporter, world.neighbour, *world.supporters]
    assert len(people) == RESIDENTS_PERSONS == 14
    return people


def _closed(world, codes, **kw):
    now = utcnow()
    ballot = gen_ballot(world, "residents", resident_rule="meeting", now=now, **kw)
    for person, code in zip(_residents(world), codes, strict=False):
        vote(person, ballot, code, now=now + timedelta(minutes=1))
    assert services.tally(ballot) == running_figures(ballot)  # the running totals agree with the count
    _, live = counting.decide(ballot, running_figures(ballot))
    services.close(world.chair_x, ballot, "counted for the test", now=now + timedelta(minutes=2))
    assert live["quorum_met"] == ballot.figures["details"]["quorum_met"]
    assert services.verify(ballot).ok
    return ballot


@pytest.mark.parametrize("codes, result", [
    (["yes"] * 7, "no_quorum"),  # 7 of 14: exactly half
    (["yes"] * 8, "passed"),  # 8 of 14
    (["yes"] * 4 + ["no"] * 3 + ["abstain"], "failed"),  # 4 of 8 taking part
    (["yes"] * 5 + ["no"] * 2 + ["abstain"], "passed"),  # 5 of 8
])
def test_a_meeting_rule_ballot_is_decided_at_close_by_the_rule(world, codes, result):
    ballot = _closed(world, codes)
    assert ballot.resident_rule == "meeting" and ballot.quorum_percent is None and ballot.threshold is None
    assert ballot.result == result
    assert ballot.figures["electorate_count"] == 14


def test_the_simple_rule_at_the_same_votes_still_passes(world):
    now = utcnow()
    ballot = gen_ballot(world, "residents", now=now)  # quorum 50 %, threshold simple
    assert ballot.resident_rule == "simple"
    for person, code in zip(_residents(world), ["yes"] * 4 + ["no"] * 3 + ["abstain"], strict=False):
        vote(person, ballot, code, now=now)
    services.close(world.chair_x, ballot, "counted", now=now + timedelta(minutes=1))
    assert ballot.result == "passed" and ballot.figures["details"]["rule"] == "simple"


def test_a_meeting_rule_ballot_short_of_half_can_be_extended_and_not_once_quorate(world):
    now = utcnow()
    ballot = gen_ballot(world, "residents", resident_rule="meeting", now=now)
    for person in _residents(world)[:7]:
        vote(person, ballot, "yes", now=now)
    services.extend(world.chair_x, ballot, ballot.closes_at + timedelta(days=1), "only half so far", now=now)
    quorate = gen_ballot(world, "residents", resident_rule="meeting", now=now)
    for person in _residents(world)[:8]:
        vote(person, quorate, "no", now=now)
    with pytest.raises(DomainError):
        services.extend(world.chair_x, quorate, quorate.closes_at + timedelta(days=1), "more", now=now)


def test_the_meeting_rule_is_for_yes_no_residents_votes(world):
    with pytest.raises(DomainError) as refused:
        gen_ballot(world, "residents", resident_rule="meeting", options=["Green", "Grey"])
    assert refused.value.field == "resident_rule"
    with pytest.raises(DomainError) as refused:
        gen_ballot(world, "residents", resident_rule="chair's whim")
    assert refused.value.field == "resident_rule"
    assert gen_ballot(world, "committee").resident_rule is None


# --- the pages --------------------------------------------------------------------------------------------

def test_the_chair_chooses_the_meeting_rule_on_the_form_and_the_pages_say_it(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.chair_x)
    form = unescape(client.get(f"/c/x/proposals/{proposal.id}/ballots/new?method=residents").get_data(as_text=True))
    assert 'name="resident_rule"' in form and "Residents' meeting (居民会议, art. 10)" in form
    now = utcnow()
    zone_time = "%Y-%m-%dT%H:%M"
    from portal.clock import in_zone
    response = post(client, f"/c/x/proposals/{proposal.id}/ballots/new?method=residents", {
        "method": "residents", "question": "是否同意3号楼加装电梯？", "resident_unit": "person",
        "resident_rule": "meeting", "kind": "yes_no", "threshold": "simple", "quorum_percent": "",
        "opens_at": in_zone(now, "Asia/Shanghai").strftime(zone_time),
        "closes_at": in_zone(now + timedelta(days=3), "Asia/Shanghai").strftime(zone_time)})
    assert response.status_code == 302
    ballot = db.session.scalar(db.select(Ballot))
    assert ballot.resident_rule == "meeting" and ballot.quorum_percent is None
    page = unescape(client.get(f"/c/x/ballots/{ballot.id}").get_data(as_text=True))
    assert "Residents' meeting rule (居民会议" in page
    assert "more than half of the verified adult residents, as frozen when voting opened" in page
    for person in _residents(world)[:8]:
        vote(person, ballot, "yes" if person in _residents(world)[:5] else "abstain")
    services.close(world.chair_x, ballot, "counted")
    db.session.commit()
    page = unescape(client.get(f"/c/x/ballots/{ballot.id}").get_data(as_text=True))
    assert ("Decided under the residents' meeting rule (居民会议, art. 10): 8 of 14 took part, more than half "
            "needed (at least 8); 5 of the 8 taking part voted yes, abstentions included, more than half needed "
            "(at least 5).") in page


def test_the_page_says_it_in_chinese(client, world):
    ballot = gen_ballot(world, "residents", resident_rule="meeting", resident_unit="household")
    db.session.commit()
    response = client.get(f"/c/x/ballots/{ballot.id}", headers={"Accept-Language": "zh-CN"})
    page = unescape(response.get_data(as_text=True))
    assert "居民会议规则" in page and "户" in page
