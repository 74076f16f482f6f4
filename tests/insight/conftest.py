import pytest

from portal.extensions import db
from tests.factories import gen_building, gen_membership, gen_organization, gen_user
from tests.issues.conftest import world as issues_world  # noqa: F401


def add_grid(w):
    """A grid of community x covering building 3 (bx) and a new building 5, with its grid worker; and a
    grid worker of community y."""
    from portal.insight.models import GridBuilding
    w.bx5 = gen_building(w.x, code="G5", name="Building G5")
    w.bx9 = gen_building(w.x, code="G9", name="Building G9")  # in no grid
    w.grid_x = gen_organization("grid", community=w.x, name="Grid 1 of X")
    w.grid_worker = gen_user(display_name="Grid worker G", phone="13766660009")
    gen_membership(w.grid_worker, w.grid_x)
    w.grid_y = gen_organization("grid", community=w.y, name="Grid 1 of Y")
    w.grid_worker_y = gen_user(display_name="Grid worker Y", phone="13766660010")
    gen_membership(w.grid_worker_y, w.grid_y)
    db.session.add_all([GridBuilding(organization_id=w.grid_x.id, building_id=w.bx.id),
                        GridBuilding(organization_id=w.grid_x.id, building_id=w.bx5.id),
                        GridBuilding(organization_id=w.grid_y.id, building_id=w.by.id)])
    db.session.flush()
    return w


@pytest.fixture
def world(issues_world):  # noqa: F811
    w = add_grid(issues_world)
    db.session.commit()
    return w
