"""Issue 23 on a phone, in Chinese: two residents vote in a budget round (knapsack, 1,000 yuan). One, with
JavaScript off, ticks three projects, checks and is told the choice is 150 yuan over, takes one out, checks
again (100 yuan left), casts and sees the receipt. The other, with JavaScript on, sees what is left change as
the boxes are ticked (htmx), casts and sees the receipt. The projects' counts are what they chose."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import sign_in, unique_email, unique_phone, visit
from tests.browser.screens import capture
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_building,
    gen_community,
    gen_household,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_user,
)

pytestmark = pytest.mark.browser

RECEIPT = re.compile(r"^[A-Z2-7]{20}$")


def seed(live_server, label: str) -> dict:
    """A community whose residents' committee keeps a public-welfare fund with a round in voting: three
    accepted projects (600, 300 and 250 yuan) for 1,000 yuan; two verified residents."""
    from portal.clock import utcnow
    from portal.funds import services as funds
    from portal.funds.rounds_models import BudgetProject, BudgetRound
    from portal.proposals.models import Proposal
    with live_server.app.app_context():
        community = gen_community(name=f"花园社区 {label}", slug=f"garden-{label}")
        building = gen_building(community, code="2", name="2号楼")
        committee = gen_organization("residents_committee", community=community, name="花园社区居委会")
        chair = gen_user(email=unique_email("chair"), display_name="主任 刘敏", phone=unique_phone())
        gen_membership(chair, committee, title="chair")
        people = {}
        for key, name, room in (("wang", "王建国", "0101"), ("chen", "陈志远", "0202")):
            person = gen_user(email=unique_email(key), display_name=name, phone=unique_phone())
            gen_residency(person, household=gen_household(building, room=room))
            people[key] = person.email
        fund = funds.create_fund(chair, kind="public_welfare", name="花园社区公益金", community=community,
                                 managing_org=committee)
        funds.record_income(chair, fund, 500_000, source="街道拨款")
        now, day = utcnow(), timedelta(days=1)
        round_ = BudgetRound(fund_id=fund.id, title="2027年微实事", total_fen=100_000, ballot_kind="knapsack",
                             voter_unit="resident", tie_rule="lower_cost", proposing_from=now - 30 * day,
                             review_from=now - 15 * day, voting_from=now - day, voting_until=now + 7 * day,
                             results_from=now + 8 * day, created_by_id=chair.id)
        db.session.add(round_)
        db.session.flush()
        projects = {}
        for key, title, cost in (("benches", "池塘边的长椅", 60_000), ("lights", "3号路照明", 30_000),
                                 ("shed", "自行车棚顶", 25_000)):
            proposal = Proposal(community_id=community.id, author_id=chair.id, title=title, status="deliberation",
                                kind="project", published_at=now - 20 * day)
            db.session.add(proposal)
            db.session.flush()
            project = BudgetProject(round_id=round_.id, proposal_id=proposal.id, estimated_cost_fen=cost,
                                    reviewed_cost_fen=cost, review_state="accepted")
            db.session.add(project)
            db.session.flush()
            projects[key] = project.id
        db.session.commit()
        return {"round_id": round_.id, "projects": projects, **people}


def speak_chinese(live_server, email: str) -> None:
    """After signing in (the sign-in helper reads English): the person's pages in Chinese from now on."""
    from portal.auth.models import User
    with live_server.app.app_context():
        db.session.scalar(db.select(User).where(User.email == email)).locale = "zh"
        db.session.commit()


def vote_counts(live_server, projects: dict) -> dict:
    from portal.funds.rounds_models import BudgetProject
    with live_server.app.app_context():
        return {key: db.session.get(BudgetProject, pid).vote_count for key, pid in projects.items()}


def box(page, place, key):
    return page.locator(f"#project-{place['projects'][key]}")


def test_residents_vote_within_the_budget_with_and_without_javascript(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    url = f"/funds/rounds/{place['round_id']}/ballot"

    # Without JavaScript: the server adds the costs up when asked, and keeps the boxes.
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, place["wang"], DEFAULT_PASSWORD)
    speak_chinese(live_server, place["wang"])
    visit(page, url)
    expect(page.locator("h1")).to_have_text("2027年微实事")
    for key in ("benches", "lights", "shed"):
        box(page, place, key).check()
    page.get_by_role("button", name="核对我的选择").click()
    expect(page.locator("#ballot-summary")).to_contain_text("超出总额 150.00 元")
    expect(box(page, place, "shed")).to_be_checked()
    capture(page, "budget-ballot-over-zh")
    box(page, place, "shed").uncheck()
    page.get_by_role("button", name="核对我的选择").click()
    expect(page.locator("#ballot-summary")).to_contain_text("剩余：100.00 元")
    page.get_by_role("button", name="投出我的选票").click()
    expect(page.locator("#my-ballot")).to_contain_text("池塘边的长椅")
    receipt = page.locator("#my-ballot .receipt-code").inner_text()
    assert RECEIPT.match(receipt)
    expect(page.get_by_role("button", name="修改我的选票")).to_be_visible()
    capture(page, "budget-ballot-cast-zh")

    # With JavaScript: what is left changes as the boxes are ticked, without leaving the page.
    page = new_context().new_page()
    sign_in(page, place["chen"], DEFAULT_PASSWORD)
    speak_chinese(live_server, place["chen"])
    visit(page, url)
    box(page, place, "lights").check()
    expect(page.locator("#ballot-summary")).to_contain_text("剩余：700.00 元")
    box(page, place, "shed").check()
    expect(page.locator("#ballot-summary")).to_contain_text("剩余：450.00 元")
    box(page, place, "benches").check()
    expect(page.locator("#ballot-summary")).to_contain_text("超出总额 150.00 元")
    capture(page, "budget-ballot-live-zh")
    box(page, place, "benches").uncheck()
    expect(page.locator("#ballot-summary")).to_contain_text("剩余：450.00 元")
    page.get_by_role("button", name="投出我的选票").click()
    expect(page.locator("#my-ballot .receipt-code")).to_have_text(RECEIPT)
    assert page.locator("#my-ballot .receipt-code").inner_text() != receipt

    assert vote_counts(live_server, place["projects"]) == {"benches": 1, "lights": 2, "shed": 1}
