"""Action pages: the tracker, one action's page, the create form and every step form — who may do what, what
bad input shows (a message on the same form, never a 500, nothing half-written), evidence serving, and the
"what happened" links on the proposal, issue and meeting pages."""
import io
import re
from datetime import timedelta

from PIL import Image

from portal.actions.models import Action, ActionEvidence, ActionRating, ActionUpdate, Chase
from portal.clock import utcnow
from portal.extensions import db
from tests.actions import gen_action, local_today, pdf
from tests.queries import count_queries
from tests.residents import post


def html(response) -> str:
    return response.get_data(as_text=True)


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


PDF = pdf().read()


def action_count() -> int:
    return db.session.scalar(db.select(db.func.count(Action.id)))


def made(world, **kw):
    action = gen_action(world, **kw)
    db.session.commit()
    return action


def url(action, step=""):
    return f"/c/x/actions/{action.id}" + (f"/{step}" if step else "")


def done(world, action):
    from portal.actions import services
    services.complete(world.property_x, action, note="换好了", photos=[jpeg()])
    db.session.commit()


# --- the tracker ---------------------------------------------------------------------------------------------

def test_tracker_is_public_with_progress_words_status_overdue_org_and_due_date(client, world):
    from portal.actions import services
    on_time = made(world, title="Repaint the gate")
    late = made(world, title="Fix the door entry", source="decision")
    services.post_progress(world.property_x, on_time, body="Half done", percent=40)
    late.due_date = local_today(world.x) - timedelta(days=1)
    db.session.commit()
    page = html(client.get("/c/x/actions"))
    assert "Repaint the gate" in page and "Fix the door entry" in page
    assert '<progress max="100" value="40"' in page and "40 percent done" in page
    assert "In progress" in page and "Planned" in page and "Overdue" in page
    assert world.pc_x.name in page and on_time.due_date.isoformat() in page
    page = html(client.get("/c/x/actions?overdue=y"))
    assert "Fix the door entry" in page and "Repaint the gate" not in page
    page = html(client.get("/c/x/actions?status=in_progress"))
    assert "Repaint the gate" in page and "Fix the door entry" not in page
    assert client.get("/c/x/actions?status=nonsense").status_code == 200
    assert client.get("/c/nowhere/actions").status_code == 404


def test_tracker_of_a_members_only_community_needs_a_member(client, auth, world):
    made(world)
    world.x.members_only = True
    db.session.commit()
    assert client.get("/c/x/actions").status_code == 302
    auth.login(world.stranger)
    assert client.get("/c/x/actions").status_code == 403
    auth.logout()
    auth.login(world.reporter)
    assert client.get("/c/x/actions").status_code == 200


def _made_many(world, count, start=0):
    for n in range(start, start + count):
        action = gen_action(world, title=f"Action {n}", source="decision")
        if n % 4 == 0:
            action.due_date = local_today(world.x) - timedelta(days=1)  # overdue
    db.session.commit()


def test_tracker_statement_count_is_the_same_with_5_and_60_actions(client, world):
    _made_many(world, 5)
    few = count_queries(client, "/c/x/actions")
    _made_many(world, 55, start=5)
    assert count_queries(client, "/c/x/actions") == few
    assert count_queries(client, "/c/x/actions?status=planned&overdue=y") == few


def test_tracker_pages_its_actions_and_keeps_the_filters(client, world):
    _made_many(world, 60)
    page = html(client.get("/c/x/actions"))
    assert page.count('class="card issue-row') == 25
    assert "Action 59" in page and "Action 34" not in page  # newest first
    more = re.search(r'class="load-more"><a class="button button-secondary" href="([^"]+)"', page).group(1)
    seen = re.findall(r">Action (\d+)</a></h2>", page)
    while more:
        more = more.replace("&amp;", "&")
        rows = html(client.get(more, headers={"HX-Request": "true"}))
        assert "<h1>" not in rows and "Overall progress" not in rows  # only the rows, appended by htmx
        seen += re.findall(r">Action (\d+)</a></h2>", rows)
        found = re.search(r'class="load-more"><a class="button button-secondary" href="([^"]+)"', rows)
        more = found and found.group(1)
    assert sorted(map(int, seen)) == list(range(60)) and len(seen) == 60
    # Without JavaScript "Load more" is a page of its own; the filter travels with it.
    page = html(client.get("/c/x/actions?overdue=y"))
    assert page.count('class="card issue-row') == 15 and "load-more" not in page
    page = html(client.get("/c/x/actions?status=planned"))
    more = re.search(r'class="load-more"><a class="button button-secondary" href="([^"]+)"', page).group(1)
    assert "status=planned" in more
    second = html(client.get(more.replace("&amp;", "&")))
    assert second.count('class="card issue-row') == 25 and "<h1>" in second
    # A stale or edited cursor: the first page of the same filters, and a message.
    response = client.get("/c/x/actions?status=planned&after=garbage")
    assert response.status_code == 302 and "status=planned" in response.headers["Location"]
    assert "after=" not in response.headers["Location"]


def test_tracker_shows_the_overall_progress_from_one_aggregate(client, world):
    from portal.actions import services
    done_one = made(world, title="Repaint the gate")
    late = made(world, title="Fix the door entry", source="decision")
    made(world, title="Plant trees", source="decision")
    done(world, done_one)
    late.due_date = local_today(world.x) - timedelta(days=1)
    db.session.commit()
    page = html(client.get("/c/x/actions?status=planned"))  # the figures are overall, whatever the filter
    summary = page[page.index('class="card tracker-summary"'):page.index("</section>")]
    assert '<progress max="3" value="1"' in summary and "1 of 3 actions done (33 percent)" in summary
    assert re.search(r'status-ok">Done</span></dt>\s*<dd><a href="/c/x/actions\?status=done">1 action</a>', summary)
    assert re.search(r'Planned</span></dt>\s*<dd><a href="/c/x/actions\?status=planned">2 actions</a>', summary)
    assert re.search(r'<dd class="overdue"><a href="/c/x/actions\?overdue=y">1 action</a>', summary)
    assert services.tracker_figures(world.x).overdue == 1
    zh = html(client.get("/c/x/actions", headers={"Accept-Language": "zh-CN"}))
    assert "总体进展" in zh and "共 3 项，已完成 1 项（33%）" in zh


def test_tracker_without_actions_shows_no_summary(client, world):
    page = html(client.get("/c/x/actions"))
    assert "tracker-summary" not in page and "No agreed actions match." in page


def test_the_tracker_is_read_once_per_version_and_follows_every_change(client, world):
    """Rows and figures are kept under the community's version (views._tracker_rows, portal.versions)."""
    from portal.actions import services
    action = made(world, title="Repaint the gate")
    client.get("/c/x/actions")
    from tests.queries import recorded_statements
    with recorded_statements() as statements:
        page = html(client.get("/c/x/actions"))
    assert "Repaint the gate" in page and not [s for s in statements if "FROM action" in s]
    services.post_progress(world.property_x, db.session.get(Action, action.id), body="Half done", percent=40)
    db.session.commit()
    page = html(client.get("/c/x/actions"))
    assert '<progress max="100" value="40"' in page
    world.pc_x.name = "Gate keepers Ltd"
    db.session.commit()
    assert "Gate keepers Ltd" in html(client.get("/c/x/actions"))


def test_the_tracker_turns_an_action_overdue_when_the_community_date_changes(client, world, monkeypatch):
    """Nothing is written at midnight: the kept tracker ends with the community's day."""
    import portal.clock
    action = made(world, title="Repaint the gate")
    action.due_date = local_today(world.x)
    db.session.commit()
    page = html(client.get("/c/x/actions"))
    assert "Overdue</strong></span></p>" not in page
    import portal.actions.views
    now = utcnow()
    for module in (portal.clock, portal.actions.views):
        monkeypatch.setattr(module, "utcnow", lambda: now + timedelta(days=1))
    page = html(client.get("/c/x/actions"))
    assert "Overdue</strong></span></p>" in page and "Repaint the gate" in page
    assert "Repaint the gate" in html(client.get("/c/x/actions?overdue=y"))


# --- one action ----------------------------------------------------------------------------------------------

def test_action_page_links_to_its_source_and_shows_the_timeline(client, world):
    action = made(world)
    page = html(client.get(url(action)))
    assert action.title in page and world.passed.title in page
    assert f"/c/x/proposals/{world.passed.id}" in page and "Timeline" in page
    assert "Post progress" not in page and "Create action" not in page
    assert client.get("/c/x/actions/99999").status_code == 404
    assert client.get(f"/c/y/actions/{action.id}").status_code == 404  # another community's address


def test_sources_show_what_happened_in_one_tap(client, auth, world):
    from_proposal = made(world, title="Lift project")
    from_issue = made(world, source="issue", title="Replace the lift cable")
    from_decision = made(world, source="decision", title="Repair the door entry")
    page = html(client.get(f"/c/x/proposals/{world.passed.id}"))
    assert "What happened" in page and f"/c/x/actions/{from_proposal.id}" in page
    page = html(client.get(f"/c/x/issues/{world.resolved.id}"))
    assert f"/c/x/actions/{from_issue.id}" in page and "Replace the lift cable" in page
    auth.login(world.chair_x)
    page = html(client.get(f"/o/{world.rc_x.id}/meetings/{world.meeting.id}"))
    assert f"/c/x/actions/{from_decision.id}" in page and "Repair the door entry" in page


def test_create_action_button_only_for_allowed_people_and_ready_sources(client, auth, world):
    link = "Create action"
    assert link not in html(client.get(f"/c/x/proposals/{world.passed.id}"))
    auth.login(world.reporter)
    assert link not in html(client.get(f"/c/x/proposals/{world.passed.id}"))
    auth.logout()
    auth.login(world.chair_x)
    page = html(client.get(f"/c/x/proposals/{world.passed.id}"))
    assert "Create action" in page and "/c/x/actions/new" in page
    assert "Create action" in html(client.get(f"/c/x/issues/{world.resolved.id}"))


# --- creating ------------------------------------------------------------------------------------------------

def form_data(world, **overrides):
    data = {"title": "加装电梯", "description": "3号楼", "responsible_org": world.pc_x.id,
            "owner": world.property_x.id, "due_date": (local_today(world.x) + timedelta(days=20)).isoformat(),
            "budget": "120000.50", "funding_source": "维修基金"}
    data.update(overrides)
    return data


def test_committee_member_creates_an_action_from_a_passed_proposal(client, auth, world):
    auth.login(world.chair_x)
    path = f"/c/x/actions/new?source=proposal&id={world.passed.id}"
    page = html(client.get(path))
    assert world.passed.title in page and world.pc_x.name in page and world.property_x.display_name in page
    response = post(client, path, form_data(world), token_from=path)
    assert response.status_code == 302
    action = db.session.scalar(db.select(Action).order_by(Action.id.desc()))
    assert action.proposal_id == world.passed.id and action.funding_source == "维修基金"
    assert str(action.budget) == "120000.50" and response.headers["Location"].endswith(f"/c/x/actions/{action.id}")


def test_create_from_decision_issue_and_as_a_step(client, auth, world):
    auth.login(world.chair_x)
    for query in (f"source=decision&id={world.decision.id}", f"source=issue&id={world.resolved.id}"):
        path = f"/c/x/actions/new?{query}"
        assert post(client, path, form_data(world), token_from=path).status_code == 302
    parent = db.session.scalar(db.select(Action).order_by(Action.id.desc()))
    path = f"/c/x/actions/new?parent={parent.id}"
    assert post(client, path, form_data(world, title="Step one"), token_from=path).status_code == 302
    step = db.session.scalar(db.select(Action).where(Action.title == "Step one"))
    assert step.parent_id == parent.id
    assert "Step one" in html(client.get(url(parent)))


def test_create_refuses_bad_input_on_the_same_form_without_writing(client, auth, world):
    auth.login(world.chair_x)
    path = f"/c/x/actions/new?source=proposal&id={world.passed.id}"
    before = action_count()
    cases = [
        ({"due_date": (local_today(world.x) - timedelta(days=1)).isoformat()}, "cannot be before today"),
        ({"due_date": "2026-13-45"}, "Write a date such as"),
        ({"due_date": ""}, "Give a date"),
        ({"title": ""}, "Say what will be done"),
        ({"budget": "-5"}, "Write an amount in yuan"),
        ({"budget": "abc"}, "Write an amount in yuan"),
        ({"responsible_org": ""}, "Choose the responsible organization"),
        ({"responsible_org": "999999"}, "Choose the responsible organization"),
        ({"owner": world.reporter.id}, "current member of the responsible organization"),
    ]
    for change, message in cases:
        response = post(client, path, form_data(world, **change), token_from=path)
        assert response.status_code == 400, change
        assert message in html(response), change
    assert action_count() == before


def test_create_permissions_and_missing_sources(client, auth, world):
    path = f"/c/x/actions/new?source=proposal&id={world.passed.id}"
    assert client.get(path).status_code == 302  # sign in first
    for person in (world.reporter, world.property_x, world.official_b):
        auth.login(person)
        assert client.get(path).status_code == 403, person.display_name
        auth.logout()
    auth.login(world.official_a)
    assert client.get(path).status_code == 200
    assert client.get("/c/x/actions/new?source=proposal&id=999999").status_code == 404
    assert client.get("/c/x/actions/new?source=elsewhere&id=1").status_code == 404
    assert client.get("/c/x/actions/new").status_code == 404
    assert client.get(f"/c/y/actions/new?source=proposal&id={world.passed.id}").status_code == 404
    month = local_today(world.x).strftime("%Y-%m")
    hotspot = f"/c/x/actions/new?source=hotspot&building={world.bx.id}&category={world.categories['lift'].id}"
    assert client.get(f"{hotspot}&month={month}").status_code == 200
    assert client.get(f"{hotspot}&month=2026-13").status_code == 404
    auth.logout()
    auth.login(world.chair_x)
    assert client.get(f"{hotspot}&month={month}").status_code == 403  # hotspots are the officials'


def test_unready_proposal_is_refused_with_a_message(client, auth, world):
    from tests.proposals import gen_proposal
    draft = gen_proposal(world, title="Not yet decided")
    db.session.commit()
    auth.login(world.chair_x)
    path = f"/c/x/actions/new?source=proposal&id={draft.id}"
    response = post(client, path, form_data(world), token_from=path)
    assert response.status_code == 400 and "Only a passed proposal" in html(response)
    assert "Create action" not in html(client.get(f"/c/x/proposals/{draft.id}"))


# --- progress, block, complete ---------------------------------------------------------------------------------

def test_property_staff_post_progress_with_a_photo_and_a_pdf(client, auth, world):
    action = made(world)
    auth.login(world.property_x)
    page = html(client.get(url(action)))
    assert "Post progress" in page and 'enctype="multipart/form-data"' in page
    response = post(client, url(action, "progress"), {
        "progress-body": "脚手架搭好了", "progress-percent": "30",
        "progress-photos": [(io.BytesIO(jpeg()), "site.jpg")],
        "progress-documents": [(io.BytesIO(PDF), "plan.pdf")]}, token_from=url(action),
        content_type="multipart/form-data")
    assert response.status_code == 302, re.findall(r'class="error[^>]*>([^<]*)', html(response))
    db.session.expire_all()
    action = db.session.get(Action, action.id)
    assert action.status == "in_progress" and action.progress == 30
    kinds = sorted(e.kind for e in action.evidence)
    assert kinds == ["image", "pdf"]
    page = html(client.get(url(action)))
    assert "脚手架搭好了" in page and "30 percent done" in page and "plan.pdf" in page
    image = next(e for e in action.evidence if e.kind == "image")
    document = next(e for e in action.evidence if e.kind == "pdf")
    got = client.get(f"/actions/evidence/{image.key}/400")
    assert got.status_code == 200 and got.mimetype == "image/jpeg"
    got = client.get(f"/actions/evidence/{document.key}")
    assert got.status_code == 200 and got.mimetype == "application/pdf" and "sandbox" in got.headers[
        "Content-Security-Policy"]
    assert client.get(f"/actions/evidence/{image.key}/123").status_code == 404
    assert client.get(f"/actions/evidence/{document.key}/400").status_code == 404
    assert client.get("/actions/evidence/nope/400").status_code == 404


def test_progress_bad_input_shows_on_the_form(client, auth, world):
    action = made(world)
    auth.login(world.property_x)
    for data, message in (({"progress-body": "x", "progress-percent": "150"}, "from 0 to 100"),
                          ({"progress-body": "x", "progress-percent": "abc"}, "from 0 to 100"),
                          ({"progress-body": "x", "progress-photos": [(io.BytesIO(b"not a photo"), "a.jpg")]},
                           "")):
        response = post(client, url(action, "progress"), data, token_from=url(action),
                        content_type="multipart/form-data")
        assert response.status_code == 400, data
        assert message in html(response)
    seven = [(io.BytesIO(jpeg()), f"p{n}.jpg") for n in range(7)]
    response = post(client, url(action, "progress"), {"progress-body": "x", "progress-photos": seven},
                    token_from=url(action), content_type="multipart/form-data")
    assert response.status_code == 400 and "at most 6 files" in html(response)
    assert db.session.scalar(db.select(db.func.count(ActionEvidence.id))) == 0
    assert db.session.get(Action, action.id).status == "planned"


def test_complete_needs_a_note_and_evidence(client, auth, world):
    action = made(world)
    auth.login(world.property_x)
    response = post(client, url(action, "complete"), {"complete-note": "做完了"}, token_from=url(action),
                    content_type="multipart/form-data")
    assert response.status_code == 400 and db.session.get(Action, action.id).status != "done"
    response = post(client, url(action, "complete"), {"complete-note": "",
                                                      "complete-photos": [(io.BytesIO(jpeg()), "a.jpg")]},
                    token_from=url(action), content_type="multipart/form-data")
    assert response.status_code == 400
    assert db.session.scalar(db.select(db.func.count(ActionEvidence.id))) == 0
    response = post(client, url(action, "complete"), {"complete-note": "做完了",
                                                      "complete-photos": [(io.BytesIO(jpeg()), "a.jpg")]},
                    token_from=url(action), content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.expire_all()
    action = db.session.get(Action, action.id)
    assert action.status == "done" and action.completion_note == "做完了"
    page = html(client.get(url(action)))
    assert "Done" in page and "做完了" in page and "Post progress" not in page


def test_block_and_unblock(client, auth, world):
    action = made(world)
    auth.login(world.property_x)
    response = post(client, url(action, "block"), {"block-reason": "", "block-unblock_by": "街道"},
                    token_from=url(action))
    assert response.status_code == 400
    assert post(client, url(action, "block"), {"block-reason": "等审批", "block-unblock_by": "街道城管科"},
                token_from=url(action)).status_code == 302
    page = html(client.get(url(action)))
    assert "Blocked" in page and "等审批" in page and "街道城管科" in page and "Unblock" in page
    assert post(client, url(action, "unblock"), {"unblock-note": "批了"}, token_from=url(action)).status_code == 302
    assert db.session.get(Action, action.id).status != "blocked"


def test_step_forms_by_role(client, auth, world):
    action = made(world)
    steps = ("progress", "block", "unblock", "complete")
    for step in steps:
        assert post(client, url(action, step), {}, token_from="/").status_code == 302  # sign in
    for person in (world.reporter, world.official_b, world.stranger, world.department_a):
        auth.login(person)
        for step in steps:
            assert post(client, url(action, step), {}, token_from="/").status_code == 403, (person, step)
        auth.logout()
    auth.login(world.chair_x)  # a committee member of the community may report progress
    assert post(client, url(action, "progress"), {"progress-body": "开工"}, token_from=url(action),
                content_type="multipart/form-data").status_code == 302
    assert db.session.scalar(db.select(db.func.count(ActionUpdate.id)).where(
        ActionUpdate.action_id == action.id, ActionUpdate.kind == "progress")) == 1


# --- rating --------------------------------------------------------------------------------------------------

def test_residents_rate_a_done_action_once_and_can_change(client, auth, world):
    action = made(world)
    auth.login(world.reporter)
    assert post(client, url(action, "rate"), {"rate-satisfaction": "satisfied"},
                token_from=url(action)).status_code == 403  # not done yet
    done(world, action)
    page = html(client.get(url(action)))
    assert "Send my rating" in page
    assert post(client, url(action, "rate"), {"rate-satisfaction": "nonsense"},
                token_from=url(action)).status_code == 400
    assert post(client, url(action, "rate"), {"rate-satisfaction": "satisfied"},
                token_from=url(action)).status_code == 302
    assert post(client, url(action, "rate"), {"rate-satisfaction": "dissatisfied"},
                token_from=url(action)).status_code == 302
    rows = db.session.scalars(db.select(ActionRating).where(ActionRating.action_id == action.id)).all()
    assert [r.satisfaction for r in rows] == ["dissatisfied"]
    page = html(client.get(url(action)))
    assert "Change my rating" in page and "1 ratings" in page
    auth.logout()
    for person in (world.resident_y, world.stranger, world.official_a):
        auth.login(person)
        assert post(client, url(action, "rate"), {"rate-satisfaction": "satisfied"},
                    token_from="/").status_code == 403
        auth.logout()


def test_rating_window_closes_and_page_evaluates(client, auth, world):
    action = made(world)
    done(world, action)
    action.done_at = utcnow() - timedelta(days=15)
    db.session.commit()
    auth.login(world.reporter)
    page = html(client.get(url(action)))
    assert "Send my rating" not in page
    db.session.expire_all()
    assert db.session.get(Action, action.id).evaluated_at is not None
    assert world.passed.status == "evaluated"  # its only action's rating window closed


# --- chasing -------------------------------------------------------------------------------------------------

def test_official_chases_an_overdue_action(client, auth, world):
    action = made(world)
    auth.login(world.official_a)
    assert "Chase the responsible organization" not in html(client.get(url(action)))  # not overdue
    action.due_date = local_today(world.x) - timedelta(days=2)
    db.session.commit()
    assert "Chase the responsible organization" in html(client.get(url(action)))
    new_due = (local_today(world.x) + timedelta(days=7)).isoformat()
    response = post(client, url(action, "chase"), {"chase-note": "", "chase-new_due": new_due}, token_from=url(action))
    assert response.status_code == 400
    response = post(client, url(action, "chase"), {"chase-note": "请尽快", "chase-new_due": "2026-02-30"},
                    token_from=url(action))
    assert response.status_code == 400 and "Write a date such as" in html(response)
    assert db.session.scalar(db.select(db.func.count(Chase.id))) == 0
    response = post(client, url(action, "chase"), {"chase-note": "请尽快", "chase-new_due": new_due},
                    token_from=url(action))
    assert response.status_code == 302
    assert "请尽快" in html(client.get(url(action)))
    auth.logout()
    for person in (world.official_b, world.chair_x, world.reporter):
        auth.login(person)
        assert post(client, url(action, "chase"), {"chase-note": "x", "chase-new_due": new_due},
                    token_from="/").status_code == 403
        auth.logout()


def test_official_chases_an_overdue_issue_from_its_page(client, auth, world):
    from tests.issues import gen_issue
    issue = gen_issue(world, title="Water leak")
    from portal.issues import services as issues
    issues.accept_issue(world.property_x, issue)
    issue.resolve_by = utcnow() - timedelta(hours=1)
    db.session.commit()
    auth.login(world.official_a)
    page = html(client.get(f"/c/x/issues/{issue.id}"))
    assert "Chase the responsible organization" in page
    new_due = (local_today(world.x) + timedelta(days=3)).isoformat()
    response = post(client, f"/c/x/issues/{issue.id}/chase", {"chase-note": "请三天内处理", "chase-new_due": new_due},
                    token_from=f"/c/x/issues/{issue.id}")
    assert response.status_code == 302
    assert db.session.scalar(db.select(db.func.count(Chase.id)).where(Chase.item_type == "issue")) == 1
    assert "请三天内处理" in html(client.get(f"/c/x/issues/{issue.id}"))
    response = post(client, f"/c/x/issues/{issue.id}/chase", {"chase-note": "x", "chase-new_due": "bad"},
                    token_from=f"/c/x/issues/{issue.id}")
    assert response.status_code == 302  # back to the issue with the message
    auth.logout()
    auth.login(world.official_b)
    assert post(client, f"/c/x/issues/{issue.id}/chase", {"chase-note": "x", "chase-new_due": new_due},
                token_from="/").status_code == 403
    assert post(client, "/c/x/issues/999999/chase", {}, token_from="/").status_code == 404


# --- an action split into steps --------------------------------------------------------------------------

def test_an_action_with_a_step_half_done_says_in_progress_not_planned(client, world):
    from portal.actions import services
    parent = made(world, title="Replace the lift ropes")
    first = gen_action(world, parent=parent, title="Order the ropes")
    gen_action(world, parent=parent, title="Fit the ropes")
    done(world, first)
    page = html(client.get(url(parent)))
    head = page[page.index("<h1>"):page.index('class="card"')]
    assert "In progress" in head and "Planned" not in head and "50 percent done" in head
    tracker = html(client.get("/c/x/actions"))
    row = tracker[tracker.index(f'id="action-{parent.id}"'):]
    assert "In progress" in row[:row.index("</li>")]
    assert services.tracker_figures(world.x).in_progress == 1


def test_the_steps_show_which_are_blocked_and_when_all_are_done(client, world):
    from portal.actions import services
    parent = made(world, title="Repair the bike shed")
    first = gen_action(world, parent=parent, title="Clear the shed")
    second = gen_action(world, parent=parent, title="New roof")
    services.block(world.property_x, second, "等待维修资金审批", "业委会")
    db.session.commit()
    page = html(client.get(url(parent)))
    assert "1 step is blocked" in page and "Every step is done" not in page
    services.unblock(world.property_x, second)
    done(world, first)
    done(world, second)
    page = html(client.get(url(parent)))
    assert "step is blocked" not in page and "Every step is done: the action can be marked as done." in page
    zh = html(client.get(url(parent), headers={"Accept-Language": "zh-CN"}))
    assert "所有步骤均已完成" in zh and "办理中" in zh


# --- volunteers ------------------------------------------------------------------------------------------

def test_a_verified_resident_signs_up_as_a_volunteer_and_withdraws(client, auth, world):
    action = made(world, title="Clean the stairwells")
    auth.login(world.reporter)
    page = html(client.get(url(action)))
    assert "Sign up to help" in page and "Show my name on the action" in page
    response = post(client, url(action, "volunteer"), {"volunteer-show_name": "y"}, token_from=url(action))
    assert response.status_code == 302
    page = html(client.get(url(action)))
    assert "1 resident has signed up to help." in page and world.reporter.display_name in page
    assert "Withdraw my sign-up" in page and "Sign up to help" not in page
    again = post(client, url(action, "volunteer"), {"volunteer-show_name": "y"}, token_from=url(action))
    assert again.status_code == 400 and "already signed up" in html(again)
    db.session.refresh(action)
    assert action.volunteer_count == 1
    post(client, url(action, "volunteer/withdraw"), token_from=url(action))
    db.session.refresh(action)
    assert action.volunteer_count == 0
    assert "Sign up to help" in html(client.get(url(action)))


def test_a_volunteer_who_hides_the_name_is_counted_only(client, auth, world):
    action = made(world, title="Clean the stairwells")
    auth.login(world.neighbour)
    post(client, url(action, "volunteer"), {}, token_from=url(action))  # the box unticked
    auth.logout()
    page = html(client.get(url(action)))  # anyone sees the count
    assert "1 resident has signed up to help." in page and world.neighbour.display_name not in page
    assert "1 more chose not to show their name." in page and "Sign up to help" not in page
    zh = html(client.get(url(action), headers={"Accept-Language": "zh-CN"}))
    assert "已有1位居民报名参与志愿服务。" in zh


def test_only_verified_residents_may_volunteer_through_the_page(client, auth, world):
    action = made(world)
    for person in (world.chair_x, world.resident_y, world.stranger):
        auth.login(person)
        assert "Sign up to help" not in html(client.get(url(action)))
        assert post(client, url(action, "volunteer"), {"volunteer-show_name": "y"},
                    token_from=url(action)).status_code == 403
        auth.logout()
    assert client.post(url(action, "volunteer")).status_code in (302, 400, 401, 403)
    db.session.refresh(action)
    assert action.volunteer_count == 0


def test_the_tracker_counts_volunteers_per_row_and_overall_with_the_same_statements(client, world):
    from portal.actions import services
    _made_many(world, 5)
    few = count_queries(client, "/c/x/actions")
    actions = db.session.scalars(db.select(Action).order_by(Action.id)).all()
    for person in (world.reporter, world.neighbour):
        services.sign_up_volunteer(person, actions[0])
    services.sign_up_volunteer(world.reporter, actions[1])
    db.session.commit()
    assert count_queries(client, "/c/x/actions") == few
    page = html(client.get("/c/x/actions"))
    row = page[page.index(f'id="action-{actions[0].id}"'):]
    assert "2 volunteers" in row[:row.index("</li>")]
    summary = page[page.index('class="card tracker-summary"'):page.index("</section>")]
    assert "3 volunteer sign-ups" in summary
    zh = html(client.get("/c/x/actions", headers={"Accept-Language": "zh-CN"}))
    assert "2位志愿者" in zh and "3人次志愿者报名" in zh


def test_what_happened_is_read_once_per_version_and_follows_the_actions(client, world):
    """The actions a source is included in are kept under the community's version (portal.versions): a second
    view reads no action, and an action made from the issue, renamed or moved on shows on the next view."""
    from portal.actions import services
    from tests.queries import recorded_statements
    path = f"/c/x/issues/{world.resolved.id}"
    assert "What happened" not in html(client.get(path))
    action = made(world, source="issue", title="Replace the lift cable")
    assert "Replace the lift cable" in html(client.get(path))
    with recorded_statements() as statements:
        html(client.get(path))
    assert "FROM action " not in " ".join(statements)
    action.title = "Replace both lift cables"
    db.session.commit()
    assert "Replace both lift cables" in html(client.get(path))
    services.post_progress(world.property_x, action, body="Cable ordered", percent=40)
    db.session.commit()
    page = html(client.get(path))
    assert "40 percent done" in page and "In progress" in page
