"""Issue 23's budget round in a phone browser (390 px), in Chinese: a resident proposes a project on the round
page; the committee reviews its cost there; the votes (the ballot pages are another branch's) are put into
the database; when the results date has come the round page publishes the result, which funds the winner and
skips the project that no longer fits; the committee records spending with a receipt against the winner's
allocation; a visitor reads it in the fund's public ledger and on the round page."""
import io
import re
from datetime import timedelta

import pytest
from PIL import Image
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import form_with, sign_in, unique_email, unique_phone, visit
from tests.browser.screens import capture
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_community,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_sub_district,
    gen_user,
)

pytestmark = pytest.mark.browser


def seed(live_server, label: str) -> dict:
    """A community with its residents' committee (the chair keeps the fund), two verified residents (all
    reading Chinese once signed in), a public-welfare fund with 50,000 yuan, and a round of 10,000 yuan proposing now with
    one project already proposed and accepted at 5,000 yuan."""
    from portal.clock import local_today
    from portal.funds import rounds, services
    with live_server.app.app_context():
        sub_district = gen_sub_district(name=f"望京街道 {label}", slug=f"wangjing-{label}")
        community = gen_community(sub_district, name=f"花家地 {label}", slug=f"hjd-{label}")
        rc = gen_organization("residents_committee", community=community, name="花家地居委会")
        chair = gen_user(email=unique_email("round-chair"), display_name="王主任", phone=unique_phone(), locale="en")
        gen_membership(chair, rc, title="chair")
        residents = []
        for name in ("李阿姨", "张先生"):
            person = gen_user(email=unique_email("round-resident"), display_name=name, phone=unique_phone(),
                              locale="en")
            gen_residency(person, community)
            residents.append(person)
        fund = services.create_fund(chair, kind="public_welfare", name="花家地社区公益金", community=community,
                                    managing_org=rc)
        services.record_income(chair, fund, 5_000_000, source="街道拨付")
        today = local_today(community.time_zone)
        round_ = rounds.create_round(chair, fund, title="微实事第一期", total="10000", ballot_kind="knapsack",
                                     tie_rule="lower_cost", dates={
                                         "proposing_from": today, "review_from": today + timedelta(days=10),
                                         "voting_from": today + timedelta(days=20),
                                         "voting_until": today + timedelta(days=30),
                                         "results_from": today + timedelta(days=31)})
        other = rounds.propose_project(residents[1], round_, title="单元门口加装雨棚", summary="下雨天进出方便。",
                                       location="5号楼", estimated_cost="5000")
        rounds.review_project(chair, other, decision="accept", reviewed_cost="5000")
        db.session.commit()
        return {"chair": chair.email, "resident": residents[0].email, "voters": [r.id for r in residents],
                "round": f"/funds/rounds/{round_.id}", "round_id": round_.id, "fund": f"/funds/{fund.id}",
                "fund_id": fund.id, "other": other.id}


def to_results(live_server, place, project_id):
    """Voting happened (two voters chose the resident's project, one of them also the other project): the
    ballots as the casting service keeps them; then the round's dates move 40 days back, so its results date
    has come."""
    from portal.funds.rounds_models import BudgetBallot, BudgetBallotChoice, BudgetRound
    with live_server.app.app_context():
        round_ = db.session.get(BudgetRound, place["round_id"])
        for column in ("proposing_from", "review_from", "voting_from", "voting_until", "results_from"):
            setattr(round_, column, getattr(round_, column) - timedelta(days=40))
        for n, (voter, chosen) in enumerate(zip(place["voters"], ([project_id, place["other"]], [project_id]),
                                                strict=True)):
            ballot = BudgetBallot(round_id=round_.id, voter_key=f"u{voter}", user_id=voter,
                                  cast_at=round_.voting_from + timedelta(hours=n + 1), receipt=f"browser-{n}")
            db.session.add(ballot)
            db.session.flush()
            db.session.add_all(BudgetBallotChoice(ballot_id=ballot.id, project_id=pid) for pid in chosen)
        db.session.commit()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 120), (250, 248, 240)).save(buffer, "PNG")
    return buffer.getvalue()


def signed_in_page(new_context, live_server, login):
    """Signed in (the sign-in helper reads English), then reading Chinese from now on."""
    from portal.auth.models import User
    page = new_context(locale="zh-CN").new_page()
    sign_in(page, login, DEFAULT_PASSWORD)
    with live_server.app.app_context():
        db.session.scalar(db.select(User).where(User.email == login)).locale = "zh"
        db.session.commit()
    return page


def test_a_round_from_proposal_to_the_public_ledger(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])

    # A resident proposes a project from the round page.
    resident = signed_in_page(new_context, live_server, place["resident"])
    visit(resident, place["round"])
    expect(resident.locator("main")).to_contain_text("项目征集")
    expect(resident.locator("main")).to_contain_text("票数相同时：核定费用较低的项目优先。")
    form = form_with(resident, "estimated_cost")
    form.locator("[name=title]").fill("小花园增设休闲座椅")
    form.locator("[name=summary]").fill("老人散步时可以坐下休息。")
    form.locator("[name=location]").fill("2号楼南侧小花园")
    form.locator("[name=estimated_cost]").fill("6500.5")
    capture(resident, "budget-round-propose-zh")
    form.locator("[type=submit]").click()
    expect(resident).to_have_url(re.compile(rf"{place['round']}#project-\d+$"))
    project_id = int(resident.url.rsplit("-", 1)[1])
    project = resident.locator(f"#project-{project_id}")
    expect(project).to_contain_text("小花园增设休闲座椅")
    expect(project).to_contain_text("估算 6,500.50 元")
    expect(project).to_contain_text("待评审")

    # The committee reviews its cost on the same page (a details element: no script needed).
    chair = signed_in_page(new_context, live_server, place["chair"])
    visit(chair, place["round"])
    item = chair.locator(f"#project-{project_id}")
    item.locator("summary").click()
    review = item.locator("form")
    review.locator(f"[name=p{project_id}-decision][value=accept]").check()
    review.locator(f"[name=p{project_id}-reviewed_cost]").fill("6000")
    capture(chair, "budget-round-review-zh")
    review.locator("[type=submit]").click()
    item = chair.locator(f"#project-{project_id}")
    expect(item).to_contain_text("核定费用 6,000.00 元")
    expect(item).to_contain_text("评审通过")

    # Voting took place; the results date has come: the round page publishes the result.
    to_results(live_server, place, project_id)
    visit(chair, place["round"])
    results = chair.locator("#results")
    expect(results).to_contain_text("6,000.00")  # funded
    expect(results).to_contain_text("4,000.00")  # left of the 10,000
    expect(chair.locator(f"#project-{project_id}")).to_contain_text("获得资金")
    skipped = chair.locator(f"#project-{place['other']}")
    expect(skipped).to_contain_text("未获资金")
    expect(skipped).to_contain_text("跳过：费用 5,000.00 元，而只剩 4,000.00 元")
    capture(chair, "budget-round-results-zh", docs="budget-round-zh")

    # The winner's action spends with a receipt, from its allocation in the fund.
    visit(chair, f"/funds/{place['fund_id']}/record")
    spending = chair.locator("#spending form")
    allocation = spending.locator("[name=allocation] option", has_text="小花园增设休闲座椅")
    spending.locator("[name=allocation]").select_option(allocation.get_attribute("value"))
    spending.locator("[name=amount]").fill("5800")
    spending.locator("[name=payee]").fill("北京宜居社区工程有限公司")
    spending.locator("[name=receipt]").set_input_files(
        [{"name": "发票.png", "mimeType": "image/png", "buffer": png()}])
    spending.locator("[type=submit]").click()
    expect(chair).to_have_url(re.compile(rf"/funds/{place['fund_id']}#entry-\d+$"))

    # A visitor reads it in the public ledger and on the round page.
    visitor = new_context(locale="zh-CN").new_page()
    visit(visitor, place["fund"])
    expect(visitor.locator("main")).to_contain_text("北京宜居社区工程有限公司")
    expect(visitor.locator("main")).to_contain_text("5,800.00")
    expect(visitor.locator("main")).to_contain_text("微实事第一期")
    capture(visitor, "budget-round-ledger-zh")
    visit(visitor, place["round"])
    expect(visitor.locator(f"#project-{project_id}")).to_contain_text(
        "已拨 6,000.00 元，已支出 5,800.00 元；剩余 200.00 元。")
