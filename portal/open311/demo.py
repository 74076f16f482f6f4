"""Demo: a hotline integration key for 花家地社区 and a few requests it sent through the Open311 path, with a
webhook to the hotline and its deliveries: one delivered, one failing (the demo hotline's address does not
resolve) with its last error, so the keys page shows both.

The demo key is fixed and printed by `seed-demo` so the README's curl examples work against the demo data;
real keys are random and shown once. Idempotent: the key and its requests are made once."""
from datetime import timedelta

from werkzeug.datastructures import MultiDict

from portal.clock import utcnow
from portal.extensions import db
from portal.open311 import services
from portal.open311.models import Open311Delivery, Open311Key, Open311Request
from portal.places.models import Community

DEMO_TOKEN = "o311_demo_huajiadi_hotline_2026"
DEMO_SLUG = "huajiadi"
DEMO_WEBHOOK = "https://hotline.example.cn/yishi/webhook"
DEMO_ERROR = "cannot reach https://hotline.example.cn/yishi/webhook: [Errno -2] Name or service not known"

# (hours ago, form fields as a hotline sends them, a handler's public reply or None). An address_id is the
# building's name here: the demo sends that building's code when the community has it, else its first one.
REQUESTS = [
    (30, {"service_code": "lighting", "address_id": "7号楼", "description": "7号楼1单元门口路灯不亮，晚上很黑。（12345工单）",
          "last_name": "张", "first_name": "女士", "phone": "13700001234"}, "已安排电工今晚检修。"),
    (6, {"service_code": "rubbish", "address_string": "南门外垃圾站", "lat": "39.983214", "long": "116.471352",
         "description": "南门外垃圾站满溢，已有异味。（12345工单）", "last_name": "王", "phone": "13600005678",
         "email": "caller@example.cn"}, None),
    (2, {"service_code": "parking", "address_id": "3号楼", "description": "3号楼前消防通道被私家车占用。（12345工单）",
         "phone": "13500009876"}, None),
]


def seed_open311() -> list[str]:
    from portal.auth import services as accounts
    from portal.issues import services as issues
    community = db.session.scalar(db.select(Community).where(Community.slug == DEMO_SLUG))
    admin = accounts.find_by_login("admin@yishi.demo")
    if community is None or admin is None:
        return []
    key = db.session.scalar(db.select(Open311Key).where(Open311Key.key_hash == services.hash_token(DEMO_TOKEN)))
    if key is None:
        key, _token = services.create_key(admin, name="12345 市民服务热线（朝阳区）演示", communities=[community],
                                          media_hosts=[], token=DEMO_TOKEN)
    if not db.session.scalar(db.select(Open311Request.id).where(Open311Request.key_id == key.id).limit(1)):
        now = utcnow()
        buildings = issues.building_choices(community)
        for hours_ago, fields, reply in REQUESTS:
            at = now - timedelta(hours=hours_ago)
            fields = dict(fields)
            if "address_id" in fields:
                wanted = fields.pop("address_id")
                building = next((b for b in buildings if b.name == wanted), buildings[0] if buildings else None)
                if building is not None:
                    fields["address_id"] = building.code
                else:
                    fields["address_string"] = wanted
            created = services.create_request(key, community, MultiDict(fields), now=at)
            services.record_use(key, "POST", "requests", 201, now=at)
            handlers = issues.members_of([created.issue.handling_org_id])
            if reply and handlers:
                issues.accept_issue(handlers[0], created.issue, note=reply, now=at + timedelta(hours=1))
    db.session.flush()
    seed_webhook(admin, key)
    db.session.flush()
    return [f"open311: demo API key {DEMO_TOKEN} (jurisdiction_id={DEMO_SLUG}); "
            f"try /open311/v2/requests.json?jurisdiction_id={DEMO_SLUG}"]


def seed_webhook(admin, key):
    """The demo integration's webhook and two deliveries: the first request's signing for, delivered; the
    second's, failing for the last hour (three tries) with the error the sender recorded."""
    from portal import events
    if key.webhook_url is None:
        services.set_webhook(admin, key, DEMO_WEBHOOK)
    if db.session.scalar(db.select(Open311Delivery.id).where(Open311Delivery.key_id == key.id).limit(1)):
        return
    requests = db.session.scalars(db.select(Open311Request).where(Open311Request.key_id == key.id)
                                  .order_by(Open311Request.created_at)).all()
    now = utcnow()
    for index, link in enumerate(requests[:2]):
        at = link.created_at + timedelta(minutes=40)
        events.work_order_changed.send(link.issue, event="signed_for", now=at,
                                       public_text="物业已签收，正在安排处理。")
        row = db.session.scalar(db.select(Open311Delivery).where(Open311Delivery.issue_id == link.issue_id))
        if row is None:
            continue
        if index == 0:
            row.status, row.attempts, row.delivered_at = "delivered", 1, at + timedelta(seconds=2)
            key.webhook_last_success_at = row.delivered_at
        else:
            row.attempts, row.last_error = 3, DEMO_ERROR
            row.next_attempt_at = now + timedelta(minutes=4)
            key.webhook_failures = 3
            key.webhook_last_error, key.webhook_last_error_at = DEMO_ERROR, now - timedelta(minutes=4)
