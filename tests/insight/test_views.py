"""The insight pages: a community's forecasts with its rise and the one-step button, the sub-district's rises
and proactive share, the patrol page a grid worker files from."""
from portal.actions.models import Action
from portal.extensions import db
from portal.insight import services as S
from portal.insight.models import Forecast, PatrolRound
from portal.issues.models import Issue
from tests.conftest import Auth
from tests.csrf import csrf_token


def post(client, path, data=None, token_from="/c/x"):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_from)})


def _rise(w):
    forecast = Forecast(community_id=w.x.id, category_id=w.categories["lift"].id, month=S.current_month(w.x),
                        expected=14, last_month=6, recent=6, method="glm", season_pct=140, trend_pct=3, rise=True)
    db.session.add(forecast)
    db.session.commit()
    return forecast


def test_a_committee_member_sees_the_rise_with_its_reason_and_acts_in_one_step(client, world):
    w = world
    rise = _rise(w)
    Auth(client).login(w.chair_x)
    page = client.get("/c/x/forecasts").get_data(as_text=True)
    assert "Lift issues rise every" in page and "forecast 14 vs 6 last month" in page
    assert f'action="/forecasts/{rise.id}/act"' in page
    answer = post(client, f"/forecasts/{rise.id}/act")
    assert answer.status_code == 302 and "/actions/" in answer.headers["Location"]
    db.session.expire_all()
    action = db.session.scalar(db.select(Action).where(Action.source == "forecast"))
    assert action is not None and db.session.get(Forecast, rise.id).action_id == action.id
    page = client.get("/c/x/forecasts").get_data(as_text=True)
    assert "Proactive action taken" in page and f'action="/forecasts/{rise.id}/act"' not in page
    again = post(client, f"/forecasts/{rise.id}/act")  # a second press says it is done already
    assert again.status_code == 302
    assert db.session.scalar(db.select(db.func.count()).select_from(Action)) == 1


def test_a_resident_may_neither_see_nor_act_on_forecasts(client, world):
    w = world
    rise = _rise(w)
    Auth(client).login(w.reporter)
    assert client.get("/c/x/forecasts").status_code == 403
    assert post(client, f"/forecasts/{rise.id}/act").status_code == 403
    assert db.session.scalar(db.select(db.func.count()).select_from(Action)) == 0


def test_the_official_sees_the_sub_districts_rises_and_proactive_share(client, world):
    w = world
    _rise(w)
    Auth(client).login(w.official_a)
    assert client.get("/forecasts").headers["Location"].endswith(f"/sub-districts/{w.sd_a.id}/forecasts")
    page = client.get(f"/sub-districts/{w.sd_a.id}/forecasts").get_data(as_text=True)
    assert "Huajiadi" in page and "forecast 14 vs 6 last month" in page
    assert "Proactive share =" in page


def test_a_grid_worker_files_a_finding_from_the_patrol_page(client, world):
    w = world
    Auth(client).login(w.grid_worker)
    page = client.get("/c/x/patrol").get_data(as_text=True)
    assert "Building G5" in page and "Building G9" not in page
    answer = post(client, "/c/x/patrol", {"building": str(w.bx.id), "checked": "Stairwells",
                                              "found": "y", "category": str(w.categories["security"].id),
                                              "title": "飞线充电 in the stairwell"})
    assert answer.status_code == 302
    issue = db.session.scalar(db.select(Issue).where(Issue.source == "patrol"))
    assert issue.title == "飞线充电 in the stairwell" and issue.reporter_id == w.grid_worker.id
    assert "Stairwells" in client.get("/c/x/patrol").get_data(as_text=True)


def test_a_round_without_what_was_checked_comes_back_with_the_typing_kept(client, world):
    w = world
    Auth(client).login(w.grid_worker)
    answer = post(client, "/c/x/patrol", {"building": str(w.bx.id), "checked": "", "place": "North gate"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Say what you checked." in page and "North gate" in page
    assert db.session.scalar(db.select(db.func.count()).select_from(PatrolRound)) == 0


def test_the_committee_reads_the_patrol_log_but_cannot_patrol(client, world):
    w = world
    S.log_patrol(w.grid_worker, w.x, checked="Fire lanes", building=w.bx)
    db.session.commit()
    Auth(client).login(w.chair_x)
    page = client.get("/c/x/patrol").get_data(as_text=True)
    assert "Fire lanes" in page and "Log the round" not in page
    assert post(client, "/c/x/patrol", {"checked": "x", "place": "y"}).status_code == 403


def test_a_committee_member_sets_the_buildings_of_a_grid(client, world):
    from portal.insight.models import GridBuilding
    w = world
    Auth(client).login(w.chair_x)
    page = client.get("/c/x/patrol").get_data(as_text=True)
    assert f'action="/c/x/grids/{w.grid_x.id}/buildings"' in page
    answer = post(client, f"/c/x/grids/{w.grid_x.id}/buildings", {"building": [str(w.bx9.id), str(w.by.id)]})
    assert answer.status_code == 302
    covered = set(db.session.scalars(db.select(GridBuilding.building_id).where(
        GridBuilding.organization_id == w.grid_x.id)))
    assert covered == {w.bx9.id}  # another community's building is not taken
    Auth(client).logout()
    Auth(client).login(w.grid_worker)
    refused = post(client, f"/c/x/grids/{w.grid_x.id}/buildings", {"building": [str(w.bx.id)]}, "/c/x/patrol")
    assert refused.status_code == 403
    assert post(client, f"/c/x/grids/{w.rc_x.id}/buildings", {"building": [str(w.bx.id)]},
                "/c/x/patrol").status_code == 404
