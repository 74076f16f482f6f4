"""Issue categories and their deadlines: the default set a community starts with (after the 12345 hotline
practice), the respond-by and resolve-by hours of each deadline class, and the organization a category
routes to. Only the community's committee changes them."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from portal.audit.services import record
from portal.auth import permissions
from portal.committees.models import Organization
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues.models import DEADLINE_CLASSES, IssueCategory
from portal.issues.services.suggest import KEYWORD_SPLIT
from portal.issues.services.whistle import report_minutes

if TYPE_CHECKING:
    from datetime import datetime

    from portal.auth.models import User
    from portal.issues.models import Issue
    from portal.places.models import Community

CATEGORY_CODE_MAX = 32
CATEGORY_NAME_MAX = 80
BASIS_MAX = 1000

# (code, English name, deadline class, kind of the organization that receives it by default)
DEFAULT_CATEGORIES = [
    ("lift", "Lift", "emergency", "property_company"),
    ("water", "Water supply", "utilities", "property_company"),
    ("power", "Power", "utilities", "property_company"),
    ("gas", "Gas", "utilities", "property_company"),
    ("heating", "Heating", "utilities", "property_company"),
    ("leak", "Leaks and pipes", "ordinary", "property_company"),
    ("lighting", "Lighting", "ordinary", "property_company"),
    ("rubbish", "Rubbish and cleaning", "ordinary", "property_company"),
    ("greenery", "Greenery", "ordinary", "property_company"),
    ("facilities", "Shared facilities", "complex", "property_company"),
    ("parking", "Parking and fire lanes", "ordinary", "department"),
    ("noise", "Noise", "ordinary", "department"),
    ("security", "Safety and security", "emergency", "residents_committee"),
    ("neighbours", "Neighbour disputes", "complex", "residents_committee"),
    ("other", "Other", "ordinary", "residents_committee"),
]
CATEGORY_LABELS = {
    "lift": _l("Lift"),
    "water": _l("Water supply"),
    "power": _l("Power"),
    "gas": _l("Gas"),
    "heating": _l("Heating"),
    "leak": _l("Leaks and pipes"),
    "lighting": _l("Lighting"),
    "rubbish": _l("Rubbish and cleaning"),
    "greenery": _l("Greenery"),
    "facilities": _l("Shared facilities"),
    "parking": _l("Parking and fire lanes"),
    "noise": _l("Noise"),
    "security": _l("Safety and security"),
    "neighbours": _l("Neighbour disputes"),
    "other": _l("Other"),
}

DEADLINE_KIND_LABELS = {"respond": _l("respond"), "resolve": _l("resolve")}

KEYWORDS_MAX = 1000
# Words residents use for each default kind of problem: the category suggestion's fallback while a community
# has too few categorized issues to learn from (portal.issues.services.suggest). Admins edit them.
DEFAULT_KEYWORDS = {
    "lift": "电梯, 电梯停运, 电梯困人, 电梯异响, 轿厢, 按钮, 楼层, lift, elevator",
    "water": "停水, 自来水, 水压, 水质, 水龙头, 发黄, 二次供水, 水箱, water",
    "power": "停电, 跳闸, 电表, 电压, 配电, 电线, 断电, 没电, power, electricity",
    "gas": "燃气, 煤气, 天然气, 燃气泄漏, 煤气味, 灶, 燃气表, gas",
    "heating": "暖气, 暖气不热, 供暖, 取暖, 暖气片, 采暖, heating, radiator",
    "leak": "漏水, 渗水, 下水道, 堵, 水管, 管道, 防水, 外墙渗水, 屋顶漏水, leak, pipe",
    "lighting": "路灯, 路灯不亮, 楼道灯, 声控灯, 灯, 照明, 黑, light, lamp",
    "rubbish": "垃圾, 垃圾分类, 垃圾桶, 垃圾清运, 楼道堆物, 清洁, 保洁, 卫生, rubbish, bin, trash",
    "greenery": "绿化, 绿化带, 树, 草坪, 修剪, 树枝, 种菜, 草, tree, grass",
    "facilities": "门禁, 单元门, 健身器材, 快递柜, 扶手, 信报箱, 设施, 长椅, 充电桩, door, playground",
    "parking": "停车, 乱停车, 车位, 消防通道, 僵尸车, 占道, 车库, parking, car",
    "noise": "噪音, 噪音扰民, 装修噪音, 广场舞, 吵, 音响, 半夜, noise, loud",
    "security": "高空抛物, 飞线充电, 安全, 消防, 隐患, 保安, 小偷, 井盖, 陌生人, fire, safety, theft",
    "neighbours": "邻居, 对门, 楼上, 楼下, 吵架, 养狗, 狗叫, 占用, 纠纷, neighbour",
    "other": "建议, 咨询, 活动室, 老年食堂, 物业费, 通知, 社区, question",
}


# --- categories -----------------------------------------------------------------------------------------

def _default_org(community, kind):
    if kind == "department":
        query = db.select(Organization).where(Organization.kind == "department",
                                              Organization.sub_district_id == community.sub_district_id)
    else:
        query = db.select(Organization).where(Organization.kind == kind, Organization.community_id == community.id)
    org = db.session.scalar(query.order_by(Organization.id).limit(1))
    if org is None and kind != "residents_committee":
        return _default_org(community, "residents_committee")
    return org


def ensure_default_categories(community: Community) -> list[IssueCategory]:
    """The default categories of a community, created when missing (existing ones are left as edited)."""
    existing = {c.code: c for c in db.session.scalars(
        db.select(IssueCategory).where(IssueCategory.community_id == community.id))}
    result = []
    for code, name, deadline_class, org_kind in DEFAULT_CATEGORIES:
        category = existing.get(code)
        if category is None:
            respond, resolve = DEADLINE_CLASSES[deadline_class]
            category = IssueCategory(community_id=community.id, code=code, name=name, deadline_class=deadline_class,
                                     respond_hours=respond, resolve_hours=resolve,
                                     default_org=_default_org(community, org_kind),
                                     keywords=DEFAULT_KEYWORDS.get(code))
            db.session.add(category)
        result.append(category)
    db.session.flush()
    return result


def categories_for(community: Community, *, active_only: bool = True) -> list[IssueCategory]:
    query = db.select(IssueCategory).where(IssueCategory.community_id == community.id)
    if active_only:
        query = query.where(IssueCategory.is_active.is_(True))
    return db.session.scalars(query.options(joinedload(IssueCategory.default_org)).order_by(IssueCategory.id)).all()


_DEFAULT_NAMES = {code: name for code, name, _c, _k in DEFAULT_CATEGORIES}


def category_label(category: IssueCategory) -> str:
    """Default categories show their translated label while their name is the default one."""
    if category.code in CATEGORY_LABELS and category.name == _DEFAULT_NAMES[category.code]:
        return str(CATEGORY_LABELS[category.code])
    return category.name


def _check_deadlines(deadline_class, respond_hours, resolve_hours):
    if deadline_class not in DEADLINE_CLASSES:
        raise DomainError(_l("Choose a deadline class."), "deadline_class")
    default_respond, default_resolve = DEADLINE_CLASSES[deadline_class]
    respond_hours = default_respond if respond_hours in (None, "") else respond_hours
    resolve_hours = default_resolve if resolve_hours in (None, "") else resolve_hours
    try:
        respond_hours, resolve_hours = int(respond_hours), int(resolve_hours)
    except (TypeError, ValueError):
        raise DomainError(_l("Deadlines are whole numbers of hours."), "respond_hours") from None
    if respond_hours <= 0:
        raise DomainError(_l("The time to respond must be at least one hour."), "respond_hours")
    if resolve_hours < respond_hours:
        raise DomainError(_l("The time to resolve cannot be shorter than the time to respond."), "resolve_hours")
    return respond_hours, resolve_hours


def _check_org_for(community, org):
    if org is None:
        return
    if org.community_id != community.id and org.sub_district_id != community.sub_district_id:
        raise DomainError(_l("Choose an organization of this community or its sub-district."), "default_org")


def create_category(actor: User, community: Community, *, code: str, name: str, deadline_class: str,
                    respond_hours: int | str | None = None, resolve_hours: int | str | None = None,
                    default_org: Organization | None = None) -> IssueCategory:
    if not permissions.can_manage_issue_categories(actor, community):
        raise NotAllowed(_l("Only administrators can change issue categories."))
    code = (code or "").strip().lower()
    name = (name or "").strip()
    if not code or len(code) > CATEGORY_CODE_MAX or not all(ch.isascii() and (ch.isalnum() or ch in "-_")
                                                            for ch in code):
        raise DomainError(_l("The code is 1 to 32 letters, digits, - or _."), "code")
    if db.session.scalar(db.select(IssueCategory.id).where(IssueCategory.community_id == community.id,
                                                           IssueCategory.code == code)) is not None:
        raise DomainError(_l("This community already has a category with this code."), "code")
    if not name or len(name) > CATEGORY_NAME_MAX:
        raise DomainError(_l("The name is 1 to 80 characters."), "name")
    respond_hours, resolve_hours = _check_deadlines(deadline_class, respond_hours, resolve_hours)
    _check_org_for(community, default_org)
    category = IssueCategory(community_id=community.id, code=code, name=name, deadline_class=deadline_class,
                             respond_hours=respond_hours, resolve_hours=resolve_hours, default_org=default_org)
    db.session.add(category)
    db.session.flush()
    record(actor, "issue_category.created", category, code=code, name=name, deadline_class=deadline_class,
           respond_hours=respond_hours, resolve_hours=resolve_hours,
           default_org_id=getattr(default_org, "id", None))
    return category


def update_category(actor: User, category: IssueCategory, *, name: str, deadline_class: str,
                    respond_hours: int | str | None, resolve_hours: int | str | None, default_org: Organization,
                    is_active: bool, basis: str | None = None,
                    report_within: int | str | None = None, keywords: str | None = None) -> IssueCategory:
    """Everything but the code, which issues keep referring to. Existing issues keep their deadlines."""
    if not permissions.can_manage_issue_categories(actor, category.community):
        raise NotAllowed(_l("Only administrators can change issue categories."))
    name = (name or "").strip()
    if not name or len(name) > CATEGORY_NAME_MAX:
        raise DomainError(_l("The name is 1 to 80 characters."), "name")
    respond_hours, resolve_hours = _check_deadlines(deadline_class, respond_hours, resolve_hours)
    _check_org_for(category.community, default_org)
    # The time to report in when summoned (whistle-blowing); "" clears it: the default by deadline class.
    minutes = None if report_within is None or str(report_within).strip() == "" \
        else report_minutes(str(report_within).strip(), "report_minutes")
    if basis is not None:
        basis = basis.strip()
        if len(basis) > BASIS_MAX:
            raise DomainError(_l("At most %(max)d characters, please.", max=BASIS_MAX), "basis")
        category.basis = basis or None
    if report_within is not None:
        category.report_minutes = minutes
    if keywords is not None:
        keywords = ", ".join(k for k in KEYWORD_SPLIT.split(keywords.strip()) if k)
        if len(keywords) > KEYWORDS_MAX:
            raise DomainError(_l("At most %(max)d characters, please.", max=KEYWORDS_MAX), "keywords")
        category.keywords = keywords or None
    category.name = name
    category.deadline_class = deadline_class
    category.respond_hours = respond_hours
    category.resolve_hours = resolve_hours
    category.default_org = default_org
    category.is_active = bool(is_active)
    db.session.flush()
    record(actor, "issue_category.updated", category, name=name, deadline_class=deadline_class,
           respond_hours=respond_hours, resolve_hours=resolve_hours,
           default_org_id=getattr(default_org, "id", None), is_active=bool(is_active), basis=category.basis or "",
           report_minutes=category.report_minutes, keywords=category.keywords or "")
    return category


def recategorize_issue(handler: User, issue: Issue, category: IssueCategory | None, *,
                       now: datetime | None = None) -> Issue:
    """A handler says what kind of problem the issue really is. Its deadlines and handler stay as they
    are (it was routed already); the community's category suggester is marked stale, to learn it on the
    next run-due."""
    from portal.issues.services._common import _add_event
    from portal.issues.services.suggest import mark_stale
    if not permissions.can_recategorize_issue(handler, issue):
        raise NotAllowed(_l("Only the people handling this issue can change its category."))
    if category is None or category.community_id != issue.community_id or not category.is_active:
        raise DomainError(_l("Choose one of this community's categories."), "category")
    if category.id == issue.category_id:
        raise DomainError(_l("The issue already has this category."), "category")
    previous = issue.category
    issue.category = category
    _add_event(issue, "recategorized", handler, at=now, from_category=previous.code, to_category=category.code)
    db.session.flush()
    record(handler, "issue.recategorized", issue, from_category=previous.code, to_category=category.code)
    mark_stale(issue.community_id)
    return issue
