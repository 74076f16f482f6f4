"""Demo places: 望京街道 (Chaoyang, Beijing) with three communities, ten buildings and 300 units; 南湖社区 holds
two estates (南湖东里: buildings 2 and 5; 南湖西里: building 9), the others one each.

Idempotent: every object is looked up by its slug, code or unit before it is made, and the random
choices are drawn the same way on every run, so a second run adds nothing."""
import random
from datetime import date
from decimal import Decimal

from sqlalchemy import func

from portal.extensions import db
from portal.places.models import Building, Community, Estate, Household, Owner, OwnerPhone, Ownership, SubDistrict
from portal.places.services import developer_of

SUB_DISTRICT = ("wangjing", "望京街道")

# slug, name, postcode, first handover day, buildings as (code, name, entrances, floors, units per floor)
COMMUNITIES = [
    ("huajiadi", "花家地社区", "100102", date(2003, 9, 1), [
        ("1", "1号楼", 2, 6, 2), ("3", "3号楼", 3, 6, 2), ("5A", "5A号楼", 2, 9, 2), ("7", "7号楼", 2, 6, 2)]),
    ("nanhu", "南湖社区", "100102", date(2006, 5, 18), [
        ("2", "2号楼", 2, 6, 2), ("5", "5号楼", 3, 6, 2), ("9", "9号楼", 2, 5, 3)]),
    ("wanghualu", "望花路社区", "100102", date(2012, 10, 8), [
        ("1", "1号楼", 2, 6, 2), ("3", "3号楼", 2, 6, 3), ("6B", "6B号楼", 1, 15, 2)]),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
         "秀兰", "霞", "平", "刚", "桂英", "建华", "建国", "国强", "志强", "淑珍", "玉兰", "凤英", "海燕", "文", "斌",
         "宇", "浩", "欣怡", "子涵", "思远", "晓东", "红梅", "丽华", "德明", "春生", "永刚", "雪梅", "嘉怡", "俊杰"]

# One buyer with three units in 花家地社区: by the Civil Code's counting they are one owner by headcount.
THREE_UNIT_BUYER = ("刘建国", "13900008888", [("1", "1", "201"), ("3", "2", "502"), ("5A", "1", "801")])
# Units of 望花路社区 6B still held by the developer (floors 11 and up are not yet sold).
DEVELOPER_FLOORS_FROM = 11
# Units resold later: (community, building, entrance, room, sale day). The first owner's holding ends
# that day and a buyer's starts, so the unit's history shows both.
SALES = [
    ("huajiadi", "1", "2", "302", date(2016, 4, 12)),
    ("huajiadi", "3", "1", "601", date(2019, 8, 30)),
    ("huajiadi", "7", "2", "102", date(2022, 3, 1)),
    ("nanhu", "5", "3", "401", date(2018, 11, 20)),
    ("nanhu", "9", "1", "203", date(2023, 6, 15)),
    ("wanghualu", "3", "2", "503", date(2021, 9, 9)),
    # A unit the developer held, sold later.
    ("wanghualu", "6B", "1", "1101", date(2021, 3, 15)),
]


# Communities holding more than one estate (小区): estate name and its buildings' codes. The first estate
# takes over the community's default one (named after the community); the others are added.
ESTATES = {"nanhu": [("南湖东里", ("2", "5")), ("南湖西里", ("9",))]}


def _estates(community, spec) -> None:
    estates = db.session.scalars(db.select(Estate).where(Estate.community_id == community.id)
                                 .order_by(Estate.id)).all()
    by_name = {e.name: e for e in estates}
    for position, (name, codes) in enumerate(spec):
        estate = by_name.get(name)
        if estate is None and position == 0 and estates and estates[0].name == community.name:
            estate = estates[0]
            estate.name = name
        if estate is None:
            estate = Estate(community=community, name=name)
            db.session.add(estate)
        db.session.flush()
        for building in db.session.scalars(db.select(Building).where(Building.community_id == community.id,
                                                                      Building.code.in_(codes))):
            building.estate_id = estate.id
    db.session.flush()


# The owner roll (业主名册) in 南湖社区's building 11: an owner with two phones, an organization, an owner
# without a phone, and two entries sharing a phone (林峰 / 林锋) waiting on the committee's duplicates page.
ROLL_BUILDING = ("nanhu", "11", "11号楼")
ROLL_UNITS = [  # entrance, room, area, area source, owners as (name, kind, phones)
    ("1", "101", "96.40", "register", [("赵敏", "person", ("13900009001", "13900009002"))]),
    ("1", "102", "210.00", "surveyed", [("北京望京科技有限公司", "organization", ("13900009003",))]),
    ("1", "201", "72.15", "contract", [("周桂兰", "person", ())]),
    ("1", "202", "88.00", "register", [("林峰", "person", ("13900009004",))]),
    ("2", "101", "88.00", "register", [("林锋", "person", ("13900009004",))]),
]


class _Phones:
    """Demo phones 1390000xxxx, handed out in order so each run gives the same person the same phone."""

    def __init__(self):
        self.next = 1

    def take(self) -> str:
        phone = f"1390000{self.next:04d}"
        self.next += 1
        return phone


def _name(rng) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _owner(community, name, phone) -> Owner:
    owner = db.session.scalar(db.select(Owner).where(Owner.community_id == community.id, Owner.phone == phone))
    if owner is None:
        owner = Owner(community=community, name=name, phone=phone, is_developer=False)
        db.session.add(owner)
        db.session.flush()
    return owner


def _hold(household, owners, start, end=None) -> None:
    for owner in owners:
        db.session.add(Ownership(household=household, owner=owner, start_date=start, end_date=end))


def seed_places() -> list[str]:
    rng = random.Random(2026)
    phones = _Phones()
    slug, name = SUB_DISTRICT
    sub_district = db.session.scalar(db.select(SubDistrict).where(SubDistrict.slug == slug))
    if sub_district is None:
        sub_district = SubDistrict(slug=slug, name=name)
        db.session.add(sub_district)
        db.session.flush()
    sales = {(c, b, e, r): day for c, b, e, r, day in SALES}
    buyer_name, buyer_phone, buyer_units = THREE_UNIT_BUYER

    for c_slug, c_name, postcode, handover, buildings in COMMUNITIES:
        community = db.session.scalar(db.select(Community).where(Community.slug == c_slug))
        if community is None:
            community = Community(sub_district=sub_district, slug=c_slug, name=c_name, postcode=postcode,
                                  time_zone="Asia/Shanghai", members_only=False)
            db.session.add(community)
            db.session.flush()
        for code, b_name, entrances, floors, per_floor in buildings:
            building = db.session.scalar(db.select(Building).where(
                Building.community_id == community.id, Building.code == code))
            if building is None:
                building = Building(community=community, code=code, name=b_name)
                db.session.add(building)
                db.session.flush()
            existing = {(h.entrance, h.room) for h in db.session.scalars(
                db.select(Household).where(Household.building_id == building.id))}
            # Units in one stack (same entrance and position) share a floor plan, so the same area.
            stack_area = {(e, n): Decimal(str(round(rng.uniform(50, 160), 2)))
                          for e in range(1, entrances + 1) for n in range(1, per_floor + 1)}
            for e in range(1, entrances + 1):
                for floor in range(1, floors + 1):
                    for n in range(1, per_floor + 1):
                        entrance, room = str(e), f"{floor}{n:02d}"
                        # Draw every random choice whether or not the unit exists, so runs agree.
                        first = (_name(rng), phones.take())
                        co_owner = (_name(rng), phones.take()) if rng.random() < 0.12 else None
                        buyer = (_name(rng), phones.take())
                        if (entrance, room) in existing:
                            continue
                        household = Household(building=building, entrance=entrance, room=room,
                                              area_m2=stack_area[(e, n)])
                        db.session.add(household)
                        db.session.flush()
                        start = handover if code != "6B" else date(2019, 12, 20)
                        if (code, entrance, room) in buyer_units and c_slug == "huajiadi":
                            owners = [_owner(community, buyer_name, buyer_phone)]
                        elif code == "6B" and floor >= DEVELOPER_FLOORS_FROM:
                            owners = [developer_of(community)]
                        else:
                            owners = [_owner(community, *first)]
                            if co_owner:
                                owners.append(_owner(community, *co_owner))
                        sale = sales.get((c_slug, code, entrance, room))
                        if sale:
                            _hold(household, owners, start, sale)
                            _hold(household, [_owner(community, *buyer)], sale)
                        else:
                            _hold(household, owners, start)
        if c_slug in ESTATES:
            _estates(community, ESTATES[c_slug])
    db.session.flush()
    _seed_roll()
    return _summary(sub_district)


def _seed_roll() -> None:
    c_slug, code, b_name = ROLL_BUILDING
    community = db.session.scalar(db.select(Community).where(Community.slug == c_slug))
    if db.session.scalar(db.select(Building.id).where(Building.community_id == community.id,
                                                      Building.code == code)) is not None:
        return
    building = Building(community=community, code=code, name=b_name)
    db.session.add(building)
    for entrance, room, area, source, owners in ROLL_UNITS:
        household = Household(building=building, entrance=entrance, room=room, area_m2=Decimal(area),
                              area_source=source)
        db.session.add(household)
        for name, kind, phones in owners:
            owner = Owner(community=community, name=name, kind=kind)
            owner.phones = [OwnerPhone(phone=phone, position=i) for i, phone in enumerate(phones)]
            db.session.add(owner)
            _hold(household, [owner], date(2015, 7, 1))
    db.session.flush()


def _summary(sub_district) -> list[str]:
    ids = [c.id for c in sub_district.communities]
    buildings = db.session.scalar(db.select(func.count(Building.id)).where(Building.community_id.in_(ids)))
    units = db.session.scalar(db.select(func.count(Household.id)).join(Building)
                              .where(Building.community_id.in_(ids)))
    owners = db.session.scalar(db.select(func.count(Owner.id)).where(Owner.community_id.in_(ids)))
    open_holdings = (db.select(Ownership.household_id).join(Owner)
                     .where(Owner.community_id.in_(ids), Ownership.end_date.is_(None)))
    co_owned = db.session.scalar(db.select(func.count()).select_from(
        open_holdings.group_by(Ownership.household_id).having(func.count() > 1).subquery()))
    developer_units = db.session.scalar(db.select(func.count()).select_from(
        open_holdings.where(Owner.is_developer).subquery()))
    sold = db.session.scalar(db.select(func.count(func.distinct(Ownership.household_id))).join(Owner)
                             .where(Owner.community_id.in_(ids), Ownership.end_date.is_not(None)))
    names = "、".join(c.name for c in sub_district.communities)
    estates = db.session.scalars(db.select(Estate).where(Estate.community_id.in_(ids)).order_by(Estate.id)).all()
    return [
        f"places: {sub_district.name}: {len(ids)} communities ({names}), {len(estates)} estates "
        f"({'、'.join(e.name for e in estates)}), {buildings} buildings, {units} units",
        f"owners: {owners} (co-owned units: {co_owned}; developer-held units: {developer_units}; "
        f"units with a sale in their history: {sold}; {THREE_UNIT_BUYER[0]} {THREE_UNIT_BUYER[1]} holds 3 units)",
        "owner roll: 南湖社区 building 11 has 赵敏 with two phones, an organization, 周桂兰 without a phone, and "
        "林峰 / 林锋 sharing a phone, flagged as probable duplicates for the committee",
    ]
