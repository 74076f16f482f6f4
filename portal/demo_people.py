"""The demo's people, shared by every area's demo (portal.demo runs them; they never import each other):
the demo accounts and their password, who is who in each community, and the organizations they serve in —
committees and a property company per community, the sub-district office and two departments, each with
members. Idempotent; the organizations come after the places demo and skip what is missing."""
from datetime import timedelta

from portal.auth.models import User
from portal.clock import utcnow
from portal.committees.models import Organization, OrgMembership
from portal.extensions import db
from portal.places.models import Community, SubDistrict

DEMO_PASSWORD = "demo-pass-2026"

DEMO_ACCOUNTS = [
    # (login, display name, is_admin)
    ("admin@yishi.demo", "平台管理员", True),
]


def ensure_user(login: str, display_name: str, *, is_admin=False, locale=None) -> User:
    from portal.auth import services
    login = services.normalize_login(login)
    user = services.find_by_login(login)
    if user is None:
        kwargs = {"phone": login} if services.is_phone(login) else {"email": login}
        user = services.create_user(display_name=display_name, password=DEMO_PASSWORD, is_admin=is_admin,
                                    locale=locale, **kwargs)
    return user


SUB_DISTRICT_SLUG = "wangjing"
COMMUNITY_SLUGS = ("huajiadi", "nanhu", "wanghualu")

# Per community: the memorable logins of its chair, a committee member, the homeowners' committee chair,
# a deliberation council member and property staff. Huajiadi's are the ones the README lists.
COMMUNITY_PEOPLE = {
    "huajiadi": {"chair": ("13800000010", "王主任"), "member": ("13800000011", "李委员"),
                 "hoa_chair": ("13800000012", "赵主任"), "council": ("13800000013", "孙代表"),
                 "property": ("13800000020", "周经理")},
    "nanhu": {"chair": ("13800000110", "陈主任"), "member": ("13800000111", "刘委员"),
              "hoa_chair": ("13800000112", "黄主任"), "council": ("13800000113", "吴代表"),
              "property": ("13800000120", "郑经理")},
    "wanghualu": {"chair": ("13800000210", "杨主任"), "member": ("13800000211", "徐委员"),
                  "hoa_chair": ("13800000212", "马主任"), "council": ("13800000213", "朱代表"),
                  "property": ("13800000220", "胡经理")},
}
OFFICIALS = [("13800000030", "高科长", "chair"), ("13800000031", "林干事", "staff")]
DEPARTMENTS = [("urban", "城管科", "13800000040", "罗队员"),
               ("housing", "住建科", "13800000041", "梁干事")]


def ensure_organization(kind, name, *, community=None, sub_district=None) -> Organization:
    query = db.select(Organization).where(Organization.kind == kind, Organization.name == name)
    query = query.where(Organization.community_id == community.id) if community else \
        query.where(Organization.sub_district_id == sub_district.id)
    org = db.session.scalar(query)
    if org is None:
        org = Organization(kind=kind, name=name, community=community, sub_district=sub_district)
        db.session.add(org)
        db.session.flush()
    return org


def ensure_member(org, user: User, title: str, days_ago: int = 400) -> OrgMembership:
    membership = db.session.scalar(db.select(OrgMembership).where(
        OrgMembership.organization_id == org.id, OrgMembership.user_id == user.id))
    if membership is None:
        membership = OrgMembership(organization=org, user=user, title=title,
                                   start_date=utcnow().date() - timedelta(days=days_ago))
        db.session.add(membership)
        db.session.flush()
    return membership


def seed_organizations() -> list[str]:
    lines = []
    for slug in COMMUNITY_SLUGS:
        community = db.session.scalar(db.select(Community).where(Community.slug == slug))
        if community is None:
            continue
        people = {role: ensure_user(login, name) for role, (login, name) in COMMUNITY_PEOPLE[slug].items()}
        rc = ensure_organization("residents_committee", f"{community.name}居委会", community=community)
        ensure_member(rc, people["chair"], "chair")
        ensure_member(rc, people["member"], "member")
        hoa = ensure_organization("homeowners_committee", f"{community.name}业委会", community=community)
        ensure_member(hoa, people["hoa_chair"], "chair")
        council = ensure_organization("deliberation_council", f"{community.name}议事会", community=community)
        ensure_member(council, people["chair"], "chair")
        ensure_member(council, people["council"], "member")
        company = ensure_organization("property_company", f"{community.name}物业服务中心", community=community)
        ensure_member(company, people["property"], "staff")
        login = COMMUNITY_PEOPLE[slug]
        lines.append(f"{community.name}: residents' committee chair {login['chair'][0]}, member {login['member'][0]}; "
                     f"homeowners' committee chair {login['hoa_chair'][0]}; council member {login['council'][0]}; "
                     f"property staff {login['property'][0]}")
    sub_district = db.session.scalar(db.select(SubDistrict).where(SubDistrict.slug == SUB_DISTRICT_SLUG))
    if sub_district is not None:
        office = ensure_organization("subdistrict_office", f"{sub_district.name}办事处", sub_district=sub_district)
        for login, name, title in OFFICIALS:
            ensure_member(office, ensure_user(login, name), title)
        for _key, org_name, login, name in DEPARTMENTS:
            ensure_member(ensure_organization("department", org_name, sub_district=sub_district),
                          ensure_user(login, name), "staff")
        lines.append(f"{sub_district.name}: officials {OFFICIALS[0][0]} (office chair), {OFFICIALS[1][0]}; "
                     f"urban management staff {DEPARTMENTS[0][2]}; housing staff {DEPARTMENTS[1][2]}")
    return lines + seed_framework_organizations()


# One of each organization of Beijing's community framework, in the community the README's logins live in:
# kind, name after the community's, member login and name.
FRAMEWORK_SLUG = "huajiadi"
FRAMEWORK_ORGANIZATIONS = [
    ("party_committee", "党委", "13800000050", "何书记"),
    ("service_station", "服务站", "13800000051", "邓站长"),
    ("social_organization", "邻里互助协会", "13800000052", "韩会长"),
    ("volunteer_team", "银龄志愿服务队", "13800000053", "冯队长"),
]


def seed_framework_organizations() -> list[str]:
    community = db.session.scalar(db.select(Community).where(Community.slug == FRAMEWORK_SLUG))
    if community is None:
        return []
    for kind, suffix, login, name in FRAMEWORK_ORGANIZATIONS:
        org = ensure_organization(kind, f"{community.name}{suffix}", community=community)
        ensure_member(org, ensure_user(login, name), "chair")
    return [f"{community.name}: Party committee {FRAMEWORK_ORGANIZATIONS[0][2]}, service station "
            f"{FRAMEWORK_ORGANIZATIONS[1][2]}, social organization {FRAMEWORK_ORGANIZATIONS[2][2]}, volunteer team "
            f"{FRAMEWORK_ORGANIZATIONS[3][2]}"]
