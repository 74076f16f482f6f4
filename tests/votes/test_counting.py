"""The counting rules at every boundary the issue names: pure functions, exact integers, no database.

Figures are (headcount, area in hundredths of m²); yes / no / abstain are options 1 / 2 / 3, named choices
11 / 12 / 13."""
import json
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

import pytest

from portal.votes.counting import MATTER_RULE, Figures, area_m2, decide, percent, to_area_cm

YES, NO, ABSTAIN = 1, 2, 3
YES_NO = [SimpleNamespace(id=YES, code="yes", label="Yes"), SimpleNamespace(id=NO, code="no", label="No"),
          SimpleNamespace(id=ABSTAIN, code="abstain", label="Abstain")]
CHOICES = [SimpleNamespace(id=11, code=None, label="East gate"), SimpleNamespace(id=12, code=None, label="West gate"),
           SimpleNamespace(id=13, code=None, label="Both")]


def ballot(method, *, matter=None, threshold=None, quorum_percent=None, at_least_half=False, options=YES_NO):
    return SimpleNamespace(method=method, matter=matter, threshold=threshold, quorum_percent=quorum_percent,
                           at_least_half=at_least_half, options=options)


def figures(electorate, *, yes=(0, 0), no=(0, 0), abstain=(0, 0), **choices):
    """Figures from (headcount, area) pairs; electorate is (headcount, area). Choices as c11=(n, area)."""
    by_option = {YES: yes, NO: no, ABSTAIN: abstain}
    by_option.update({int(k[1:]): v for k, v in choices.items()})
    by_option = {k: v for k, v in by_option.items() if v != (0, 0)}
    return Figures(electorate_count=electorate[0], electorate_area=electorate[1],
                   voted_count=sum(c for c, _ in by_option.values()),
                   voted_area=sum(a for _, a in by_option.values()), by_option=by_option)


# --- owners: participation (≥ 2/3 of the area AND ≥ 2/3 of the headcount) ---

OWNERS_PARTICIPATION = [
    # (electorate, yes, no, abstain, result, why)
    ((9, 90000), (6, 60000), (0, 0), (0, 0), "passed", "exactly 2/3 by headcount and by area passes"),
    ((9, 90000), (6, 59999), (0, 0), (0, 0), "no_quorum", "just under 2/3 of the area fails"),
    ((9, 90000), (5, 60000), (0, 0), (0, 0), "no_quorum", "just under 2/3 of the headcount fails"),
    ((9, 90000), (5, 59999), (0, 0), (0, 0), "no_quorum", "under on both fails"),
    ((9, 90000), (4, 40000), (0, 0), (2, 20000), "passed", "abstaining is taking part"),
    ((9, 90000), (4, 40000), (0, 0), (1, 19999), "no_quorum", "abstentions just short of 2/3 of the area"),
    ((3, 300), (2, 200), (0, 0), (0, 0), "passed", "small numbers, exactly 2/3"),
    ((3, 10 ** 17 * 3), (2, 10 ** 17 * 2), (0, 0), (0, 0), "passed", "exact beyond float precision"),
    ((3, 10 ** 17 * 3), (2, 10 ** 17 * 2 - 1), (0, 0), (0, 0), "no_quorum", "one hundredth short, beyond floats"),
    ((0, 0), (0, 0), (0, 0), (0, 0), "no_quorum", "zero electorate"),
    ((9, 90000), (0, 0), (0, 0), (0, 0), "no_quorum", "nobody voted"),
]


@pytest.mark.parametrize("electorate, yes, no, abstain, result, why", OWNERS_PARTICIPATION,
                         ids=[case[-1] for case in OWNERS_PARTICIPATION])
def test_owners_participation_boundaries(electorate, yes, no, abstain, result, why):
    got, details = decide(ballot("owners", matter=5), figures(electorate, yes=yes, no=no, abstain=abstain))
    assert got == result, why
    assert details["quorum_met"] is (result != "no_quorum")


def everyone_takes_part(matter, yes, no, abstain):
    """decide() for an owners' ballot on `matter` whose whole electorate votes (yes, no, abstain)."""
    electorate = (sum(p[0] for p in (yes, no, abstain)), sum(p[1] for p in (yes, no, abstain)))
    return decide(ballot("owners", matter=matter), figures(electorate, yes=yes, no=no, abstain=abstain))


# --- owners: matters 6–8 (≥ 3/4 of the participating area AND headcount) ---

THREE_QUARTERS = [
    # (yes, no, abstain, passes, why) — electorate (8, 80000): everyone who takes part makes participation
    ((6, 60000), (2, 20000), (0, 0), True, "exactly 3/4 by headcount and area passes"),
    ((6, 59999), (2, 20001), (0, 0), False, "just under 3/4 of the participating area fails"),
    ((5, 60000), (3, 20000), (0, 0), False, "just under 3/4 of the participating headcount fails"),
    ((6, 60000), (0, 0), (2, 20000), True, "abstentions are participating: exactly 3/4 with them"),
    ((6, 60000), (1, 10000), (1, 10001), False, "an abstention can tip the area below 3/4"),
    ((8, 80000), (0, 0), (0, 0), True, "unanimous"),
]


@pytest.mark.parametrize("matter", [6, 7, 8])
@pytest.mark.parametrize("yes, no, abstain, passes, why", THREE_QUARTERS, ids=[c[-1] for c in THREE_QUARTERS])
def test_special_matters_need_three_quarters(matter, yes, no, abstain, passes, why):
    result, details = everyone_takes_part(matter, yes, no, abstain)
    assert result == ("passed" if passes else "failed"), why
    assert details["rule"] == "three_quarters"


# --- owners: the other matters (> 1/2 of each) ---

MORE_THAN_HALF = [
    # (yes, no, abstain, passes, why) — everyone in the electorate takes part
    ((3, 30000), (3, 30000), (0, 0), False, "exactly 1/2 by both fails"),
    ((4, 30000), (2, 30000), (0, 0), False, "exactly 1/2 of the area fails, whatever the headcount"),
    ((3, 40000), (3, 20000), (0, 0), False, "exactly 1/2 of the headcount fails, whatever the area"),
    ((4, 30001), (2, 29999), (0, 0), True, "just over 1/2 of both passes"),
    ((4, 40000), (1, 10000), (1, 10000), True, "abstentions count in the denominator"),
    ((3, 30000), (1, 10000), (2, 20000), False, "abstentions make half not more than half"),
    ((6, 60000), (0, 0), (0, 0), True, "unanimous"),
]


@pytest.mark.parametrize("matter", [1, 2, 3, 4, 5, 9])
@pytest.mark.parametrize("yes, no, abstain, passes, why", MORE_THAN_HALF, ids=[c[-1] for c in MORE_THAN_HALF])
def test_other_matters_need_more_than_half(matter, yes, no, abstain, passes, why):
    result, details = everyone_takes_part(matter, yes, no, abstain)
    assert result == ("passed" if passes else "failed"), why
    assert details["rule"] == "more_than_half"


def test_exactly_three_quarters_passes_a_more_than_half_matter_too():
    assert decide(ballot("owners", matter=5), figures((8, 800), yes=(6, 600), no=(2, 200)))[0] == "passed"


@pytest.mark.parametrize("matter, rule", [(1, "more_than_half"), (2, "more_than_half"), (3, "more_than_half"),
                                          (4, "more_than_half"), (5, "more_than_half"), (6, "three_quarters"),
                                          (7, "three_quarters"), (8, "three_quarters"), (9, "more_than_half")])
def test_matter_rule(matter, rule):
    assert MATTER_RULE(matter) == rule


def test_owners_details_show_participation_and_yes_with_percentages():
    result, d = decide(ballot("owners", matter=5),
                       figures((9, 90000), yes=(4, 40050), no=(1, 10000), abstain=(1, 10000)))
    assert result == "passed"
    assert (d["electorate_count"], d["electorate_area"], d["voted_count"], d["voted_area"]) == (9, 90000, 6, 60050)
    assert d["participation_count_pct"] == "66.67"
    assert d["participation_area_pct"] == "66.72"  # 60050 / 90000 = 66.7222…
    assert (d["yes_count"], d["yes_area"], d["no_count"], d["abstain_area"]) == (4, 40050, 1, 10000)
    assert d["yes_base"] == "voted"
    assert d["yes_count_pct"] == "66.67" and d["yes_area_pct"] == "66.69"  # 40050 / 60050 = 66.694…
    assert [o["count"] for o in d["options"]] == [4, 1, 1]
    assert json.loads(json.dumps(d)) == d  # storable as it is


# --- committee ---

COMMITTEE = [
    # (members, yes, no, abstain, at_least_half, result, why)
    (7, 4, 0, 0, False, "passed", "4 of 7 cast and said yes"),
    (7, 3, 0, 0, False, "no_quorum", "3 of 7 cast: not more than half"),
    (6, 3, 0, 0, False, "no_quorum", "exactly half cast: not valid"),
    (6, 3, 0, 0, True, "no_quorum", "at-least-half is about passing; validity still needs more than half"),
    (6, 3, 1, 0, False, "failed", "yes from exactly half of all members fails 'more than half'"),
    (6, 3, 1, 0, True, "passed", "yes from exactly half passes 'at least half'"),
    (6, 2, 2, 0, True, "failed", "under half fails even 'at least half'"),
    (6, 4, 0, 0, False, "passed", "4 of 6"),
    (10, 5, 1, 0, False, "failed", "5 of 6 voters but only half of ALL members"),
    (10, 6, 0, 0, False, "passed", "6 of 10 members"),
    (5, 2, 0, 3, False, "failed", "abstentions make it valid but are not yes"),
    (5, 3, 0, 2, False, "passed", "abstentions count toward validity only"),
    (5, 0, 0, 3, False, "failed", "a valid ballot of abstentions fails"),
    (0, 0, 0, 0, False, "no_quorum", "zero members"),
    (5, 0, 0, 0, False, "no_quorum", "nobody voted"),
]


@pytest.mark.parametrize("members, yes, no, abstain, at_least_half, result, why", COMMITTEE,
                         ids=[c[-1] for c in COMMITTEE])
def test_committee_boundaries(members, yes, no, abstain, at_least_half, result, why):
    got, details = decide(ballot("committee", at_least_half=at_least_half),
                          figures((members, 0), yes=(yes, 0), no=(no, 0), abstain=(abstain, 0)))
    assert got == result, why


def test_committee_yes_share_is_of_all_members():
    _result, d = decide(ballot("committee"), figures((10, 0), yes=(5, 0), no=(1, 0)))
    assert d["yes_base"] == "electorate" and d["yes_count_pct"] == "50.00"
    assert d["participation_count_pct"] == "60.00"
    assert d["participation_area_pct"] == "—"


# --- residents: quorum ---

RESIDENTS_QUORUM = [
    # (quorum_percent, electorate, voted, met, why) — every voter says yes
    (Decimal("33.33"), 10000, 3333, True, "exactly 33.33 % of 10000"),
    (Decimal("33.33"), 10000, 3332, False, "one short of 33.33 %"),
    (Decimal("33.33"), 3, 1, True, "1 of 3 is 33.333… ≥ 33.33"),
    (Decimal("33.34"), 3, 1, False, "1 of 3 is under 33.34"),
    (Decimal("50"), 7, 4, True, "4 of 7 ≥ 50 %"),
    (Decimal("50"), 8, 4, True, "exactly half meets a 50 % quorum"),
    (Decimal("50"), 8, 3, False, "3 of 8 is under 50 %"),
    (Decimal("66.67"), 3, 2, False, "2 of 3 = 66.666… is under 66.67"),
    (Decimal("66.66"), 3, 2, True, "2 of 3 is over 66.66"),
    (Decimal("100"), 5, 5, True, "everyone"),
    (Decimal("100"), 5, 4, False, "all but one"),
    (Decimal("0.01"), 10000, 1, True, "one in ten thousand meets 0.01 %"),
    (Decimal("0.01"), 10001, 1, False, "one in 10001 is under 0.01 %"),
    ("33.33", 10000, 3333, True, "a percent given as text is read exactly"),
]


@pytest.mark.parametrize("quorum, electorate, voted, met, why", RESIDENTS_QUORUM,
                         ids=[c[-1] for c in RESIDENTS_QUORUM])
def test_residents_quorum_is_exact(quorum, electorate, voted, met, why):
    result, details = decide(ballot("residents", quorum_percent=quorum, threshold="simple"),
                             figures((electorate, 0), yes=(voted, 0)))
    assert details["quorum_met"] is met, why
    assert result == ("passed" if met else "no_quorum")


# --- residents: thresholds over yes + no ---

RESIDENTS_THRESHOLD = [
    # (threshold, yes, no, abstain, result, why) — quorum 10 % of 20, always met
    ("simple", 6, 5, 0, "passed", "more than half of yes+no"),
    ("simple", 5, 5, 0, "failed", "exactly half of yes+no fails"),
    ("simple", 3, 2, 10, "passed", "abstentions are outside yes+no"),
    ("simple", 0, 0, 4, "failed", "only abstentions: yes+no = 0 fails"),
    ("two_thirds", 10, 5, 0, "passed", "exactly 2/3 of yes+no passes"),
    ("two_thirds", 9, 5, 0, "failed", "just under 2/3 fails"),
    ("two_thirds", 2, 1, 0, "passed", "2 of 3"),
    ("two_thirds", 66, 34, 0, "failed", "66 % is under 2/3"),
    ("two_thirds", 6, 3, 9, "passed", "abstentions do not dilute 2/3"),
    ("two_thirds", 0, 0, 2, "failed", "only abstentions"),
    (None, 6, 5, 0, "passed", "no threshold set reads as simple"),
]


@pytest.mark.parametrize("threshold, yes, no, abstain, result, why", RESIDENTS_THRESHOLD,
                         ids=[c[-1] for c in RESIDENTS_THRESHOLD])
def test_residents_thresholds(threshold, yes, no, abstain, result, why):
    got, details = decide(ballot("residents", quorum_percent=Decimal("10"), threshold=threshold),
                          figures((20, 0), yes=(yes, 0), no=(no, 0), abstain=(abstain, 0)))
    assert got == result, why
    assert details["yes_base"] == "yes_no"


def test_residents_two_thirds_share_is_shown_rounded_half_up():
    _result, d = decide(ballot("residents", quorum_percent=Decimal("10"), threshold="two_thirds"),
                        figures((20, 0), yes=(10, 0), no=(5, 0), abstain=(1, 0)))
    assert d["yes_count_pct"] == "66.67"
    assert d["participation_count_pct"] == "80.00"


# --- residents: named choices by plurality ---

PLURALITY = [
    # (counts of options 11/12/13, quorum, result, winner, tie, why) — electorate 20
    ((5, 3, 2), "10", "passed", 11, [], "most votes wins"),
    ((2, 7, 1), "10", "passed", 12, [], "any option can win"),
    ((4, 4, 1), "10", "tie", None, [11, 12], "equal top counts are a tie"),
    ((3, 3, 3), "10", "tie", None, [11, 12, 13], "a three-way tie"),
    ((1, 0, 0), "10", "no_quorum", None, [], "one of 20 is under 10 %"),
    ((2, 0, 0), "10", "passed", 11, [], "two of 20 is exactly 10 %"),
    ((0, 0, 0), "10", "no_quorum", None, [], "nobody voted"),
]


@pytest.mark.parametrize("counts, quorum, result, winner, tie, why", PLURALITY, ids=[c[-1] for c in PLURALITY])
def test_named_choices_by_plurality(counts, quorum, result, winner, tie, why):
    f = figures((20, 0), c11=(counts[0], 0), c12=(counts[1], 0), c13=(counts[2], 0))
    got, details = decide(ballot("residents", quorum_percent=Decimal(quorum), options=CHOICES), f)
    assert (got, details["winner_id"], details["tie_ids"]) == (result, winner, tie), why
    assert details["rule"] == "plurality"


def test_choice_shares_are_of_the_ballots_cast():
    f = figures((20, 0), c11=(5, 0), c12=(3, 0), c13=(1, 0))
    _result, d = decide(ballot("residents", quorum_percent=Decimal("10"), options=CHOICES), f)
    assert [(o["id"], o["count"], o["count_pct"]) for o in d["options"]] == [
        (11, 5, "55.56"), (12, 3, "33.33"), (13, 1, "11.11")]


# --- zero electorate, every method ---

@pytest.mark.parametrize("b", [ballot("committee"), ballot("owners", matter=7),
                               ballot("residents", quorum_percent=Decimal("1"), threshold="simple"),
                               ballot("residents", quorum_percent=Decimal("1"), options=CHOICES)],
                         ids=["committee", "owners", "residents yes/no", "residents choices"])
def test_zero_electorate_is_no_quorum(b):
    result, d = decide(b, Figures(0, 0, 0, 0, {}))
    assert result == "no_quorum"
    assert d["participation_count_pct"] == "—" and d["participation_area_pct"] == "—"


# --- percentages and areas ---

PERCENTS = [
    (2, 3, "66.67"), (1, 3, "33.33"), (1, 8, "12.50"), (0, 5, "0.00"), (5, 5, "100.00"), (5, 0, "—"),
    (0, 0, "—"),
    (1, 800, "0.13"),  # 0.125 → half up (banker's rounding would say 0.12)
    (107, 4000, "2.68"),  # 2.675: a float would round it to 2.67
    (1, 1600, "0.06"),  # 0.0625
    (1, 200000, "0.00"),  # 0.0005
    (2, 30000, "0.01"),  # 0.00666…
    (10 ** 17 * 2 - 1, 10 ** 17 * 3, "66.67"),
    (60050, 90000, "66.72"),
]


@pytest.mark.parametrize("n, d, text", PERCENTS)
def test_percent_two_decimals_half_up(n, d, text):
    assert percent(n, d) == text


def test_percent_matches_decimal_half_up_rounding_everywhere_small():
    for d in range(1, 120):
        for n in range(0, d + 1):
            expected = (Decimal(n * 100) / Decimal(d)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            assert percent(n, d) == str(expected), (n, d)


def test_percent_refuses_negative_counts():
    with pytest.raises(ValueError):
        percent(-1, 3)


def test_areas_convert_exactly():
    assert to_area_cm(Decimal("120.50")) == 12050
    assert to_area_cm("0.29") == 29  # 0.29 * 100 in floats is 28.999…
    assert area_m2(30050) == Decimal("300.50")
    with pytest.raises(ValueError):
        to_area_cm("1.005")


def test_figures_survive_json():
    f = Figures(10, 141425, 6, 90000, {7: (4, 60000), 8: (2, 30000)})
    assert Figures.from_json(json.loads(json.dumps(f.as_json()))) == f
    assert Figures.from_json({**f.as_json(), "details": {"x": 1}}) == f
