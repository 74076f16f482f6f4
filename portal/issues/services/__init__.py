"""Neighbourhood issues: categories and their deadlines, reporting, "me too", handling, rating, deadline
warnings and the lists.

Every function that changes something takes the acting person first, checks the named rule in
`portal.auth.permissions`, validates everything before writing anything, adds a timeline entry
(IssueEvent), writes an audit entry and notifies the people concerned. Callers commit; a DomainError
leaves nothing written. `now=None` means utcnow(); tests pass explicit times.

Metrics for DESIGN §4 are stored exactly: `first_response_at` is set once, by the first handler action the
reporter can see (accept, reject, a public update, or a merge that tells them where to look);
`resolved_at` is the latest resolution; the rating fields hold the reporter's latest answer.

The rules live in one module per concern: `categories`, `reporting` (with "me too"), `handling`,
`rating`, `deadlines` (and the run-due steps), `lists`, and for the 12345 work order (a hotline issue)
`workorder` (sign for, send back, extensions, appeals) and `returnvisits`; `_common` holds what several of them share
(field limits, the notification events, the timeline entry). Import from `portal.issues.services`."""
from portal.auth import permissions
from portal.issues.models import Issue, next_deadline
from portal.issues.services._common import (
    COMMENT_MAX,
    LOCATION_MAX,
    REASON_MAX,
    REPORTER_NAME_MAX,
    REPORTER_PHONE_MAX,
    _add_event,
    _payload,
    _urgent,
    members_of,
    supporters_of,
)
from portal.issues.services.categories import (
    CATEGORY_CODE_MAX,
    CATEGORY_LABELS,
    CATEGORY_NAME_MAX,
    DEADLINE_KIND_LABELS,
    DEFAULT_CATEGORIES,
    DEFAULT_KEYWORDS,
    categories_for,
    category_label,
    create_category,
    ensure_default_categories,
    recategorize_issue,
    update_category,
)
from portal.issues.services.deadlines import (
    RATE_WITHIN,
    WARN_AT,
    apply_due,
    close_unrated,
    is_overdue,
    rebuild_next_deadlines,
    warn_deadlines,
)
from portal.issues.services.handling import (
    accept_handover,
    accept_issue,
    hand_over,
    handover_targets,
    merge_duplicate,
    post_update,
    reject_issue,
    resolve_issue,
    start_work,
)
from portal.issues.services.lists import (
    EVENT_LABELS,
    SORTS,
    _page,
    building_choices,
    community_issues,
    due_for,
    event_label,
    household_choices,
    issue_at,
    issue_in,
    list_reads_the_same_until,
    my_issues,
    public_events,
    reporter_name_for,
    reporter_phone_for,
)
from portal.issues.services.rating import rate_issue
from portal.issues.services.reporting import (
    has_supported,
    report_from_hotline,
    report_issue,
    report_problems,
    support_issue,
    supported_in,
    supported_issue_ids,
)
from portal.issues.services.returnvisits import attempts_of, record_return_visit, return_visit_days, visit_due_by
from portal.issues.services.suggest import retrain_due, suggest_codes
from portal.issues.services.suggest import suggest as suggest_categories
from portal.issues.services.suggest import train as train_category_model
from portal.issues.services.whistle import (
    blow_whistle,
    check_report,
    default_report_within,
    report_in,
    summonable,
    summons_of,
    summons_recipients,
    summons_targets,
    warn_late_summonses,
)
from portal.issues.services.workorder import (
    appeal_rating,
    appeals_of,
    awaiting_signature,
    decide_appeal,
    decide_extension,
    extension_counts_on_time,
    extensions_of,
    pending_appeal,
    pending_extension,
    request_extension,
    reroute,
    resolved_on_time,
    return_to_hotline,
    send_back,
    sign_for,
)
