"""Issue 5 in a phone browser: a resident proposes a lift; three neighbours support it (the community's
threshold is 3), which opens the consultation; a neighbour posts an "against" comment naming someone, three
residents report it and it is hidden pending review; a committee member reviews it in the moderation queue,
restores it, and pins the consultation summary on top. A second test supports and comments with JavaScript
off."""
import re

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import form_with, sign_in, unique_email, unique_phone, visit
from tests.browser.screens import capture
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_building,
    gen_committee_member,
    gen_community,
    gen_household,
    gen_residency,
    gen_user,
)

pytestmark = pytest.mark.browser

THRESHOLD = 3


def seed(live_server, label: str) -> dict:
    """A community (support threshold 3) with one building, a committee member, the author, three
    supporters and the neighbour who disagrees, all verified residents."""
    with live_server.app.app_context():
        community = gen_community(name=f"Plum Blossom {label}", slug=f"plum-{label}")
        community.proposal_support_threshold = THRESHOLD
        building = gen_building(community, code="B3", name="Building 3")
        member = gen_committee_member(community, kind="residents_committee", title="chair")
        member.email = unique_email("committee")
        member.display_name = "Director Zhou 周主任"

        def resident(prefix, name, room):
            person = gen_user(email=unique_email(prefix), display_name=name, phone=unique_phone())
            gen_residency(person, household=gen_household(building, entrance="1", room=room))
            return person.email
        people = {
            "slug": community.slug, "member": member.email,
            "author": resident("author", "Wang Fang 王芳", "0601"),
            "supporters": [resident("supporter", name, room) for name, room in
                           (("Li Lei", "0101"), ("Han Meimei", "0201"), ("Zhao Qiang", "0301"))],
            "critic": resident("critic", "Sun Li", "0401"),
        }
        db.session.commit()
        return people


def proposal_state(live_server, proposal_id: int):
    from portal.proposals.models import Comment, Proposal
    with live_server.app.app_context():
        proposal = db.session.get(Proposal, proposal_id)
        comments = db.session.scalars(db.select(Comment).where(Comment.proposal_id == proposal_id)).all()
        return (proposal.status, proposal.support_count, [(c.stance, c.hidden_state) for c in comments],
                proposal.summary_for)


def signed_in_page(new_context, login):
    page = new_context().new_page()
    sign_in(page, login, DEFAULT_PASSWORD)
    return page


def test_propose_support_consult_flag_restore_and_summarise(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    slug = place["slug"]

    # The author writes the proposal on the phone and publishes it at once.
    author = signed_in_page(new_context, place["author"])
    visit(author, f"/c/{slug}")
    author.locator("main").get_by_role("link", name="Propose something").click()
    form = form_with(author, "title")
    form.locator("[name=title]").fill("Add a lift to building 3 / 3号楼加装电梯")
    form.locator("[name=summary]").fill("Building 3 has six floors and no lift. Older neighbours can hardly "
                                       "get out. Apply for the district's subsidy and share the rest by floor.")
    form.locator("[name=body]").fill("## Why\n\nThirty-one people over 70 live in building 3.\n\n"
                                     "## How\n\n- apply for the subsidy\n- share the rest **by floor**")
    form.locator("[name=category]").select_option(label="Lifts")
    form.get_by_label("Building 3").check()
    form.locator("[name=estimated_cost]").fill("450000")
    capture(author, "proposal-new")
    form.get_by_role("button", name="Publish").click()
    expect(author).to_have_url(re.compile(rf"/c/{slug}/proposals/\d+$"))
    proposal_url = author.url
    proposal_id = int(proposal_url.rsplit("/", 1)[1])
    expect(author.locator("main h1")).to_have_text("Add a lift to building 3 / 3号楼加装电梯")
    expect(author.locator("main .proposal-status")).to_have_text("Collecting supports")
    expect(author.locator("main .markdown strong")).to_have_text("by floor")
    expect(author.locator("main .support")).to_contain_text(f"0 of {THRESHOLD} supports")
    capture(author, "proposal-published")

    # Three neighbours support it; the button swaps in place (htmx), and the third opens the consultation.
    supporters = []
    for n, login in enumerate(place["supporters"], start=1):
        page = signed_in_page(new_context, login)
        visit(page, proposal_url)
        support = page.locator(f"#support-{proposal_id}")
        support.get_by_role("button", name="Support this proposal").click()
        expect(support).to_contain_text("You support this proposal")
        expect(support).to_contain_text(f"{n} of {THRESHOLD} supports")
        assert page.url == proposal_url  # swapped in place, no reload
        supporters.append(page)
    expect(supporters[-1].locator(f"#support-{proposal_id}")).to_contain_text("goes to consultation")
    capture(supporters[-1], "proposal-threshold")
    assert proposal_state(live_server, proposal_id)[:2] == ("deliberation", THRESHOLD)

    # A neighbour who disagrees comments "against", naming someone.
    critic = signed_in_page(new_context, place["critic"])
    visit(critic, proposal_url)
    expect(critic.locator("main .proposal-status")).to_have_text("In consultation")
    comment_form = critic.locator("main .new-comment form")
    comment_form.get_by_label("Against").check()
    comment_form.locator("[name=body]").fill("Too expensive for the ground floor. Mr Wang in 0102 only wants it "
                                             "to sell his flat, call him on 13900001111.")
    comment_form.get_by_role("button", name="Post my comment").click()
    expect(critic).to_have_url(re.compile(r"#comment-\d+$"))
    comment_id = int(critic.url.rsplit("-", 1)[1])
    comment = critic.locator(f"#comment-{comment_id}")
    expect(comment.locator(".stance-badge")).to_have_text("Against")
    expect(critic.locator("main .tally-words")).to_contain_text("Against 1")
    capture(critic, "proposal-comment")

    # Three residents report it for personal information; the third report hides it pending review.
    for page in supporters:
        page.reload()
        flag = page.locator(f"#flag-comment-{comment_id}")
        flag.click()  # the "Report" link: htmx puts the form in its place
        expect(flag.locator("form")).to_be_visible()
        flag.get_by_label("Personal information (names, phones, addresses)").check()
        flag.get_by_role("button", name="Send report").click()
        expect(page.locator(f"#flag-comment-{comment_id}")).to_contain_text("Reported, thank you")
    assert proposal_state(live_server, proposal_id)[2] == [("against", "pending")]
    supporters[0].reload()
    hidden = supporters[0].locator(f"#comment-{comment_id}")
    expect(hidden).to_contain_text("Hidden pending review")
    expect(hidden).not_to_contain_text("13900001111")
    capture(supporters[0], "proposal-comment-hidden")

    # A committee member reviews it in the moderation queue and restores it.
    member = signed_in_page(new_context, place["member"])
    visit(member, "/moderation")
    item = member.locator(f"#queue-comment-{comment_id}")
    expect(item).to_contain_text("Hidden pending review")
    expect(item).to_contain_text("3 reports")
    capture(member, "moderation-queue", docs="moderation")
    item.get_by_role("button", name="Restore").click()
    expect(member.locator("main")).to_contain_text("Nothing is waiting for review.")
    assert proposal_state(live_server, proposal_id)[2] == [("against", None)]

    # …and pins the consultation summary on top of the proposal.
    visit(member, proposal_url)
    expect(member.locator(f"#comment-{comment_id}")).to_contain_text("Too expensive for the ground floor")
    member.locator("main").get_by_role("link", name="Write the consultation summary").click()
    summary = form_with(member, "arguments_for")
    summary.locator("[name=arguments_for]").fill("Older residents could leave home again; the district pays "
                                                 "about 40% of the cost.")
    summary.locator("[name=arguments_against]").fill("Ground-floor owners gain nothing and would still pay "
                                                     "a share; the lift shaft darkens two kitchens.")
    summary.get_by_role("button", name="Pin the summary").click()
    expect(member).to_have_url(proposal_url)
    pinned = member.locator("main .consultation-summary")
    expect(pinned).to_contain_text("the district pays about 40%")
    expect(pinned).to_contain_text("Ground-floor owners gain nothing")
    assert proposal_state(live_server, proposal_id)[3].startswith("Older residents")
    capture(member, "proposal-summary")

    # What residents see: the step bar, the summary on top, the stances, the restored comment.
    visit(critic, proposal_url)
    expect(critic.locator("main .step-current")).to_contain_text("In consultation")
    expect(critic.locator("main .consultation-summary")).to_be_visible()
    capture(critic, "proposal-consultation", docs="proposal")


def test_support_and_comment_without_javascript(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])
    author = signed_in_page(new_context, place["author"])
    visit(author, f"/c/{place['slug']}/proposals/new")
    form = form_with(author, "title")
    form.locator("[name=title]").fill("Benches by the pond")
    form.locator("[name=summary]").fill("Two benches by the pond for older neighbours.")
    form.get_by_role("button", name="Publish").click()
    expect(author).to_have_url(re.compile(r"/proposals/\d+$"))
    proposal_url = author.url

    for login in place["supporters"]:
        page = new_context(java_script_enabled=False).new_page()
        sign_in(page, login, DEFAULT_PASSWORD)
        visit(page, proposal_url)
        page.get_by_role("button", name="Support this proposal").click()
        expect(page).to_have_url(re.compile(r"#support$"))
        expect(page.locator("main .support")).to_contain_text("You support this proposal")
    expect(page.locator("main .proposal-status")).to_have_text("In consultation")

    # A comment without a stance comes back with the message and the words kept.
    comment_form = page.locator("main .new-comment form")
    comment_form.locator("[name=body]").fill("Please put them in the shade.")
    comment_form.get_by_role("button", name="Post my comment").click()
    expect(page.locator("main")).to_contain_text("Say whether you are for, against or neutral")
    expect(page.locator("main [name=body]")).to_have_value("Please put them in the shade.")
    capture(page, "proposal-comment-error-no-js")
    page.locator("main").get_by_label("For", exact=True).check()
    page.locator("main").get_by_role("button", name="Post my comment").click()
    expect(page).to_have_url(re.compile(r"#comment-\d+$"))
    expect(page.locator("main .comments")).to_contain_text("Please put them in the shade.")
