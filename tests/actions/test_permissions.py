"""The actions and dashboard rules, by role."""
from datetime import UTC, datetime, timedelta

import pytest

from portal.auth import permissions as p
from tests.actions import gen_action, photo


@pytest.mark.parametrize("role, plain, hotspot", [
    ("chair_x", True, False), ("member_x", True, False), ("official_a", True, True), ("admin", True, True),
    ("official_b", False, False), ("member_y", False, False), ("property_x", False, False),
    ("reporter", False, False), ("stranger", False, False)])
def test_who_creates_actions(world, role, plain, hotspot):
    user = getattr(world, role)
    assert p.can_create_action(user, world.x, world.passed) is plain
    assert p.can_create_action(user, world.x, {"building": world.bx}) is hotspot


@pytest.mark.parametrize("role, expected", [
    ("property_x", True), ("chair_x", True), ("admin", True), ("department_a", False), ("official_b", False),
    ("member_y", False), ("reporter", False)])
def test_who_updates_an_action(world, role, expected):
    a = gen_action(world)
    assert p.can_update_action(getattr(world, role), a) is expected


def test_who_rates_and_when(world):
    from portal.actions import services
    t = datetime.now(UTC)
    a = gen_action(world)
    assert not p.can_rate_action(world.reporter, a)
    services.complete(world.property_x, a, note="ok", photos=[photo()], now=t)
    assert p.can_rate_action(world.reporter, a)
    assert not p.can_rate_action(world.resident_y, a)
    assert not p.can_rate_action(world.pending, a)
    assert not p.can_rate_action(world.stranger, a)
    assert not p.can_rate_action(world.reporter, a, now=t + timedelta(days=14))


@pytest.mark.parametrize("role, expected", [
    ("official_a", True), ("official_b", False), ("chair_x", False), ("property_x", False), ("reporter", False)])
def test_who_chases(world, role, expected):
    assert p.can_chase(getattr(world, role), gen_action(world)) is expected


def test_dashboard_by_role(world):
    assert p.can_view_dashboard(world.official_a, sub_district=world.sd_a)
    assert p.can_view_dashboard(world.official_a, community=world.y)
    assert not p.can_view_dashboard(world.official_b, sub_district=world.sd_a)
    assert not p.can_view_dashboard(world.official_b, community=world.x)
    assert p.can_view_dashboard(world.chair_x, community=world.x)
    assert not p.can_view_dashboard(world.chair_x, community=world.y)
    assert not p.can_view_dashboard(world.chair_x, sub_district=world.sd_a)
    assert p.can_view_dashboard(world.admin, sub_district=world.sd_b)
    for person in (world.reporter, world.property_x, world.stranger):
        assert not p.can_view_dashboard(person)
        assert not p.can_view_dashboard(person, community=world.x)
    assert p.can_view_dashboard(world.chair_x) and p.can_view_dashboard(world.official_a)


def test_personal_data_in_exports(world):
    assert p.can_export_personal_data(world.official_a, sub_district=world.sd_a)
    assert not p.can_export_personal_data(world.official_b, sub_district=world.sd_a)
    assert not p.can_export_personal_data(world.chair_x, community=world.x)
    assert p.can_export_personal_data(world.admin)
    assert not p.can_export_personal_data(world.reporter)
