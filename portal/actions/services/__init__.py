"""Agreed actions (落实事项) and chases (督办): every change goes through here, with the acting person first.

Each function checks its rule (portal.auth.permissions) and its input, changes the rows, writes the timeline
step (ActionUpdate / IssueEvent), the audit entry and the notifications, and flushes: the caller commits.
Refusals raise NotAllowed / DomainError before anything is written.

The rules live in one module per concern: `creating`, `progress`, `evidence`, `rating` (and the
run-due step), `volunteers`, `chasing`, `lists`, `whistle` (吹哨报到 on an action, and the joint handling of
an issue's report-ins as sub-actions); `_common` holds what several of them share. Import
from `portal.actions.services`."""
from portal.actions.services._common import (
    BUDGET_MAX,
    FUNDING_MAX,
    MAX_FILES,
    RATING_WINDOW,
    REASON_MAX,
    SATISFACTION,
    TEXT_MAX,
    TITLE_MAX,
    UNBLOCK_BY_MAX,
    _payload,
    local_date,
)
from portal.actions.services.chasing import chase, chases_of
from portal.actions.services.creating import COMMUNITY_RESPONSIBLE_KINDS, create_action, responsible_orgs
from portal.actions.services.evidence import evidence_dir, evidence_path
from portal.actions.services.lists import (
    TRACKER_PAGE,
    TrackerFigures,
    action_in,
    actions_for_source,
    community_actions,
    timeline,
    tracker_figures,
)
from portal.actions.services.progress import (
    block,
    complete,
    is_overdue,
    overdue_now,
    post_progress,
    progress_of,
    set_progress_by_hand,
    unblock,
)
from portal.actions.services.rating import apply_due, evaluate_due, my_rating, rate, rating_summary
from portal.actions.services.volunteers import (
    count_volunteers,
    is_volunteer,
    named_volunteers,
    sign_up_volunteer,
    withdraw_volunteer,
)
from portal.actions.services.whistle import (
    action_summons_of,
    action_summons_targets,
    blow_whistle_on_action,
    default_report_within,
    file_issue_report_in,
    joint_action_of,
    report_in_to_action,
    warn_late_action_summonses,
)
from portal.outbox import notify
