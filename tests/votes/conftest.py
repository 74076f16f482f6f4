"""The `world` fixture for the votes tests (see tests/votes/__init__.py for what it holds)."""
from datetime import date

import pytest

from tests.conftest import reused_world
from tests.factories import gen_building, gen_household, gen_membership, gen_organization, gen_residency, gen_user
from tests.issues.conftest import world as issues_world  # noqa: F401  (the world the proposals one extends)
from tests.proposals.conftest import build_proposals_world
from tests.proposals.conftest import world as proposals_world  # noqa: F401  (imported by name from here)
from tests.residents import gen_owner
from tests.votes import exclude_unowned


def _linked(owner, user, confirmed_by):
    owner.user_id = user.id
    owner.confirmed_by_id = confirmed_by.id
    return owner


def build_votes_world():
    """The proposals world and what tests/votes/__init__.py lists (committed)."""
    from portal.clock import utcnow
    from portal.extensions import db
    from portal.places.models import Ownership
    w = build_proposals_world()
    now = utcnow()

    w.hoa_x = gen_organization("homeowners_committee", community=w.x, name="花家地小区业主委员会")
    w.hoa_chair = gen_user(display_name="业委会主任 刘敏", phone="13900000050")
    gen_membership(w.hoa_chair, w.hoa_x, title="chair")
    w.hoa_member = gen_user(display_name="业委会委员 赵强", phone="13900000051")
    gen_membership(w.hoa_member, w.hoa_x, title="member")
    w.hoa_member2 = gen_user(display_name="业委会委员 孙丽", phone="13900000052")
    gen_membership(w.hoa_member2, w.hoa_x, title="member")

    w.child = gen_user(display_name="Child C", phone="13811110009")
    child = gen_residency(w.child, household=w.hx)
    child.is_adult = False
    w.hx3 = gen_household(w.bx, entrance="1", room="0301")
    gen_residency(w.neighbour, household=w.hx3)

    w.b5 = gen_building(w.x, code="5", name="5号楼")
    unit = {}
    for entrance, room, area in (("1", "0101", "100.00"), ("1", "0102", "90.00"), ("1", "0201", "90.00"),
                                 ("1", "0202", "120.50"), ("1", "0301", "110.00"), ("1", "0302", "95.25"),
                                 ("2", "0101", "80.00"), ("2", "0102", "80.00"), ("2", "0103", "80.00"),
                                 ("2", "0104", "80.00"), ("3", "0101", "100.00"), ("3", "0102", "100.00"),
                                 ("3", "0103", "100.00"), ("3", "0104", "100.00"), ("4", "0101", "66.60")):
        unit[f"{entrance}-{room}"] = gen_household(w.b5, entrance=entrance, room=room, area=area)
    w.units = unit
    w.empty_unit = unit["4-0101"]

    w.owner_a = gen_user(display_name="业主 王建国", phone="13600000001")
    w.owner_a_record = _linked(gen_owner(unit["1-0101"], name="王建国", phone="13600000001"), w.owner_a, w.hoa_chair)

    w.buyer = gen_user(display_name="业主 陈志远", phone="13600000002")
    w.buyer_record = _linked(gen_owner(unit["1-0102"], name="陈志远", phone="13600000002"), w.buyer, w.hoa_chair)
    for key in ("1-0201", "1-0202"):
        db.session.add(Ownership(household=unit[key], owner=w.buyer_record, start_date=date(2020, 1, 1)))

    w.co_owner_1 = gen_user(display_name="业主 李娜", phone="13600000003")
    w.co_owner_2 = gen_user(display_name="业主 张伟", phone="13600000004")
    w.co_record_1 = _linked(gen_owner(unit["1-0301"], name="李娜", phone="13600000003"), w.co_owner_1, w.hoa_chair)
    w.co_record_2 = _linked(gen_owner(unit["1-0301"], name="张伟", phone="13600000004"), w.co_owner_2, w.hoa_chair)
    w.co_unit = unit["1-0301"]

    w.developer_rep = gen_user(display_name="开发商代表 周涛", phone="13600000005")
    w.developer = _linked(gen_owner(unit["2-0101"], name="北京华居房地产开发有限公司", is_developer=True),
                          w.developer_rep, w.hoa_chair)
    for key in ("2-0102", "2-0103", "2-0104"):
        db.session.add(Ownership(household=unit[key], owner=w.developer, start_date=date(2020, 1, 1)))

    w.unlinked_owner = gen_owner(unit["1-0302"], name="吴秀英", phone="13600000006")
    w.unlinked = w.unlinked_owner

    w.owners_more = []
    w.owner_records_more = []
    for n, key in enumerate(("3-0101", "3-0102", "3-0103", "3-0104")):
        person = gen_user(display_name=f"业主 {n + 1}号", phone=f"1360000010{n}")
        start = date(2023, 6, 1) if key == "3-0104" else date(2020, 1, 1)
        record = _linked(gen_owner(unit[key], name=f"业主{n + 1}", phone=f"1360000010{n}", start=start),
                         person, w.hoa_chair)
        w.owners_more.append(person)
        w.owner_records_more.append(record)
    w.seller = gen_user(display_name="原业主 马超", phone="13600000009")
    w.seller_record = _linked(gen_owner(unit["3-0104"], name="马超", phone="13600000009", start=date(2020, 1, 1),
                                        end=date(2023, 6, 1)), w.seller, w.hoa_chair)

    w.reporter_record = _linked(gen_owner(w.hx, name="Reporter P", phone="13811110001"), w.reporter, w.hoa_chair)
    for record in (w.owner_a_record, w.buyer_record, w.co_record_1, w.co_record_2, w.developer, w.seller_record,
                   w.reporter_record, *w.owner_records_more):
        record.confirmed_at = now
    exclude_unowned(w.x, w.hoa_chair)
    db.session.commit()  # committed, so requests made by the test client see it
    return w


@pytest.fixture
def world(app):
    return reused_world(build_votes_world)
