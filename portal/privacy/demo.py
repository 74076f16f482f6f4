"""The privacy demo: a resident who asked to delete their account (in the cooling-off period, so it can
still be cancelled) and a resident with a copy of their data ready to download. Idempotent; runs after the
residents and issues demos and skips accounts that are missing."""
from datetime import timedelta

from portal.auth.services import find_by_login
from portal.clock import utcnow
from portal.extensions import db
from portal.privacy import services
from portal.privacy.models import DataExport, DeletionRequest

DELETION_LOGIN = "13800000005"  # 李先生 of Huajiadi, who moved out
EXPORT_LOGIN = "13800000001"    # 张阿姨 of Huajiadi


def seed_privacy() -> list[str]:
    lines = []
    now = utcnow()
    person = find_by_login(DELETION_LOGIN)
    if person is not None and person.is_active and db.session.scalar(db.select(DeletionRequest.id).where(
            DeletionRequest.user_id == person.id).limit(1)) is None:
        # Asked two days ago: five days of the cooling-off period left.
        services.request_deletion(person, person, now=now - timedelta(days=2))
        lines.append(f"deletion requested by {DELETION_LOGIN} (cooling off until "
                     f"{services.open_deletion(person).due_at:%Y-%m-%d})")
    person = find_by_login(EXPORT_LOGIN)
    if person is not None and db.session.scalar(db.select(DataExport.id).where(
            DataExport.user_id == person.id, DataExport.status == "ready").limit(1)) is None:
        export = services.request_export(person, person, now=now)
        if export.status == "pending":
            services.prepare_export(export, now)
        lines.append(f"data export ready for {EXPORT_LOGIN} until {export.expires_at:%Y-%m-%d}")
    db.session.flush()
    return lines
