"""Counting a ballot: pure functions over exact integers, no database.

The numbers come in as `Figures` (headcounts, and areas in integer hundredths of m²) and every threshold
is compared by cross-multiplication, so "exactly two thirds" is exactly two thirds and no float is ever
made. The rules are DESIGN §3 "Ballot":

- committee: valid when more than half of ALL members cast a ballot (2·voted > members); passes when yes
  votes are more than half of all members (2·yes > members) — or at least half (2·yes ≥ members) when the
  organization is set so. Abstaining counts toward validity only.
- residents: quorum when voted ≥ quorum_percent % of the electorate (100·voted ≥ q·electorate, with the
  Decimal percent taken exactly; no percent set reads as 0). Yes/no: "simple" passes when
  2·yes > yes+no, "two_thirds" when 3·yes ≥ 2·(yes+no); abstentions are outside yes+no, and
  yes+no = 0 fails. Named choices: the option with most votes wins (result "passed",
  details["winner_id"]); equal top counts are a tie.
- residents under the "meeting" rule (居民会议, Organic Law of Urban Residents' Committees art. 10; yes/no
  only): quorum when more than half of the frozen electorate take part (2·voted > electorate); passes when
  yes is more than half of those taking part, abstentions in the base (2·yes > voted).
- owners (Civil Code art. 278, SPC interpretation art. 9): participation when the voters hold ≥ 2/3 of the
  area AND are ≥ 2/3 of the headcount (abstaining is taking part). Matters 6–8 pass with yes ≥ 3/4 of the
  participating area AND headcount; all others with yes > 1/2 of each.

Common to all methods: an empty electorate, or a ballot nobody cast, is "no_quorum".

`decide` also returns `details`, every number the result page shows, JSON-able (ints, bools, strings,
lists; percentages as strings with two decimals, ROUND_HALF_UP, "—" for a zero denominator)."""
from dataclasses import dataclass, field
from decimal import Decimal

from portal.votes.models import SPECIAL_MATTERS

NO_PERCENT = "—"


@dataclass(frozen=True)
class Figures:
    """The counts a result is decided from; all ints, areas in hundredths of m².

    electorate_count / electorate_area: the whole frozen electorate (area only for owners' ballots, else 0);
    voted_count / voted_area: voters with a live vote, abstaining included;
    by_option: option id -> (headcount, area) of the live votes for it."""

    electorate_count: int
    electorate_area: int
    voted_count: int
    voted_area: int
    by_option: dict[int, tuple[int, int]] = field(default_factory=dict)

    def option(self, option_id) -> tuple[int, int]:
        """(headcount, area) of the live votes for one option; (0, 0) when nobody chose it."""
        return self.by_option.get(option_id, (0, 0))

    def as_json(self) -> dict:
        """A JSON-able form (option ids become string keys, as JSON requires); see `from_json`."""
        return {
            "electorate_count": self.electorate_count,
            "electorate_area": self.electorate_area,
            "voted_count": self.voted_count,
            "voted_area": self.voted_area,
            "by_option": {str(k): [c, a] for k, (c, a) in sorted(self.by_option.items())},
        }

    @classmethod
    def from_json(cls, data: dict) -> "Figures":
        """The inverse of `as_json`; other keys in `data` (e.g. details stored alongside) are ignored."""
        return cls(
            electorate_count=int(data["electorate_count"]),
            electorate_area=int(data["electorate_area"]),
            voted_count=int(data["voted_count"]),
            voted_area=int(data["voted_area"]),
            by_option={int(k): (int(v[0]), int(v[1])) for k, v in (data.get("by_option") or {}).items()},
        )


def percent(n: int, d: int) -> str:
    """n / d as a percentage with two decimals, rounded half up ("66.67"); "—" when d is 0. Exact
    integer arithmetic; counts are never negative."""
    if d == 0:
        return NO_PERCENT
    if n < 0 or d < 0:
        raise ValueError("percent() takes counts, which are never negative")
    hundredths = (20000 * n + d) // (2 * d)  # round(10000·n/d), halves up
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def area_m2(area_cm: int) -> Decimal:
    """Hundredths of m² back to square metres, exactly (12345 -> Decimal("123.45"))."""
    return Decimal(area_cm).scaleb(-2)


def to_area_cm(value) -> int:
    """An exclusive area in m² (Decimal, int or str) to integer hundredths; refuses finer fractions."""
    cm = Decimal(value) * 100
    if cm != cm.to_integral_value():
        raise ValueError(f"area {value} has more than two decimals")
    return int(cm)


def MATTER_RULE(matter) -> str:  # noqa: N802 (the name the contract fixes)
    """The passing rule of an owners' matter: "three_quarters" for matters 6–8, else "more_than_half"."""
    return "three_quarters" if matter in SPECIAL_MATTERS else "more_than_half"


def decide(ballot_like, figures: Figures) -> tuple[str, dict]:
    """(result, details) for a ballot (anything with method, matter, threshold, quorum_percent,
    at_least_half, optionally resident_rule, and options with id and code) and its figures. result is one
    of models.RESULTS."""
    decide_method = {"committee": _decide_committee, "residents": _decide_residents, "owners": _decide_owners}
    result, details = decide_method[ballot_like.method](ballot_like, figures, _base_details(ballot_like, figures))
    if figures.electorate_count <= 0 or figures.voted_count <= 0:
        details.update(quorum_met=False, winner_id=None, tie_ids=[])
        result = "no_quorum"
    return result, details


# --- the three methods ---

def _decide_committee(ballot, f: Figures, details: dict) -> tuple[str, dict]:
    yes_count, yes_area = _code_total(ballot, f, "yes")
    details.update(rule="at_least_half" if ballot.at_least_half else "more_than_half",
                   quorum_met=2 * f.voted_count > f.electorate_count)
    _yes_share(details, yes_count, yes_area, f.electorate_count, 0, base="electorate")
    if not details["quorum_met"]:
        return "no_quorum", details
    if ballot.at_least_half:
        passed = 2 * yes_count >= f.electorate_count
    else:
        passed = 2 * yes_count > f.electorate_count
    return ("passed" if passed else "failed"), details


def _decide_residents(ballot, f: Figures, details: dict) -> tuple[str, dict]:
    if getattr(ballot, "resident_rule", None) == "meeting":
        return _decide_residents_meeting(ballot, f, details)
    num, den = Decimal(ballot.quorum_percent or 0).as_integer_ratio()  # q = num/den exactly
    details["quorum_met"] = 100 * f.voted_count * den >= num * f.electorate_count
    if not _is_yes_no(ballot):
        details["rule"] = "plurality"
        return _decide_plurality(ballot, f, details)
    details["rule"] = ballot.threshold or "simple"
    yes, _ = _code_total(ballot, f, "yes")
    no, _ = _code_total(ballot, f, "no")
    _yes_share(details, yes, 0, yes + no, 0, base="yes_no")
    if not details["quorum_met"]:
        return "no_quorum", details
    if yes + no == 0:
        return "failed", details
    if details["rule"] == "two_thirds":
        passed = 3 * yes >= 2 * (yes + no)
    else:
        passed = 2 * yes > yes + no
    return ("passed" if passed else "failed"), details


def _decide_residents_meeting(ballot, f: Figures, details: dict) -> tuple[str, dict]:
    """The 居民会议 rule: more than half of the electorate take part; more than half of them vote yes."""
    details.update(rule="residents_meeting", quorum_met=2 * f.voted_count > f.electorate_count,
                   quorum_needed=f.electorate_count // 2 + 1, yes_needed=f.voted_count // 2 + 1)
    yes, _ = _code_total(ballot, f, "yes")
    _yes_share(details, yes, 0, f.voted_count, 0, base="voted")
    if not details["quorum_met"]:
        return "no_quorum", details
    return ("passed" if 2 * yes > f.voted_count else "failed"), details


def _decide_plurality(ballot, f: Figures, details: dict) -> tuple[str, dict]:
    """Named choices: the most votes wins; several options sharing the top count are a tie."""
    counts = {o.id: f.option(o.id)[0] for o in ballot.options}
    top = max(counts.values(), default=0)
    leaders = [oid for oid, n in counts.items() if n == top]
    details.update(winner_id=leaders[0] if len(leaders) == 1 else None,
                   tie_ids=leaders if len(leaders) > 1 else [])
    if not details["quorum_met"]:
        details.update(winner_id=None, tie_ids=[])
        return "no_quorum", details
    return ("passed" if len(leaders) == 1 else "tie"), details


def _decide_owners(ballot, f: Figures, details: dict) -> tuple[str, dict]:
    details["rule"] = MATTER_RULE(ballot.matter)
    details["quorum_met"] = (3 * f.voted_area >= 2 * f.electorate_area
                             and 3 * f.voted_count >= 2 * f.electorate_count)
    yes_count, yes_area = _code_total(ballot, f, "yes")
    _yes_share(details, yes_count, yes_area, f.voted_count, f.voted_area, base="voted")
    if not details["quorum_met"]:
        return "no_quorum", details
    if details["rule"] == "three_quarters":
        passed = 4 * yes_area >= 3 * f.voted_area and 4 * yes_count >= 3 * f.voted_count
    else:
        passed = 2 * yes_area > f.voted_area and 2 * yes_count > f.voted_count
    return ("passed" if passed else "failed"), details


# --- shared pieces ---

def _is_yes_no(ballot) -> bool:
    return any(o.code == "yes" for o in ballot.options)


def _code_total(ballot, f: Figures, code: str) -> tuple[int, int]:
    """(headcount, area) of the live votes for the option with this code (yes / no / abstain)."""
    ids = [o.id for o in ballot.options if o.code == code]
    return (sum(f.option(i)[0] for i in ids), sum(f.option(i)[1] for i in ids))


def _yes_share(details: dict, yes_count, yes_area, base_count, base_area, *, base: str) -> None:
    """The yes share against the denominator the rule compares with: "electorate" (committee: all
    members), "yes_no" (residents: yes+no) or "voted" (owners: the participating headcount and area)."""
    details.update(yes_base=base, yes_base_count=base_count, yes_base_area=base_area,
                   yes_count_pct=percent(yes_count, base_count), yes_area_pct=percent(yes_area, base_area))


def _base_details(ballot, f: Figures) -> dict:
    """Every figure common to all methods; the method adds its rule, quorum and yes share."""
    options = []
    for o in ballot.options:
        count, area = f.option(o.id)
        options.append({"id": o.id, "code": o.code, "count": count, "area": area,
                        "count_pct": percent(count, f.voted_count), "area_pct": percent(area, f.voted_area)})
    details = {
        "method": ballot.method,
        "matter": getattr(ballot, "matter", None),
        "electorate_count": f.electorate_count,
        "electorate_area": f.electorate_area,
        "voted_count": f.voted_count,
        "voted_area": f.voted_area,
        "participation_count_pct": percent(f.voted_count, f.electorate_count),
        "participation_area_pct": percent(f.voted_area, f.electorate_area),
        "options": options,
        "rule": None,
        "quorum_met": None,
        "winner_id": None,
        "tie_ids": [],
    }
    for code in ("yes", "no", "abstain"):
        count, area = _code_total(ballot, f, code)
        details.update({f"{code}_count": count, f"{code}_area": area})
    return details
