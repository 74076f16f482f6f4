"""Proposals (议题): drafting and publishing, supports, the consultation and its comments, withdrawal,
archiving, escalation from an issue, and the lists.

Every function that changes something takes the acting person first, checks the named rule in
`portal.auth.permissions`, validates everything before writing anything, adds a timeline entry
(ProposalEvent) where it is a step of the proposal, writes an audit entry and notifies the people
concerned. Callers commit; a DomainError leaves nothing written. `now=None` means utcnow(); tests pass
explicit times.

Acting for a resident follows the issues area: the acting member is the first argument and the resident
`on_behalf_of`; the resident becomes the author and the member is kept as `created_by`. Later steps on
the member's own words (edit, publish, withdraw) name the resident in the audit log the same way.

Counters (support_count, comment_count, like_count) are changed by UPDATE … SET n = n + 1, so two
people acting at once both count; the unique constraints (one support, one like per person) are the
last line behind the checks, caught in a SAVEPOINT.

The rules live in one module per concern: `writing` (settings, drafting, publishing, editing,
withdrawing, escalating an issue), `supports`, `lifecycle` (the committee's, time's and the other areas'
steps), `consultation` (comments, likes, the summary), `lists`; `_common` holds what several of them
share. Import from `portal.proposals.services`."""
from portal.proposals.services._common import (
    EDIT_SILENTLY_WITHIN,
    OPEN_STATES,
    _text,
    committee_of,
    followers_of,
    supporters_of,
    tell_followers,
)
from portal.proposals.services.consultation import (
    COMMENT_SORTS,
    COMMENTS_PER_PAGE,
    REPLIES_PER_PAGE,
    REPLIES_SHOWN,
    Thread,
    add_comment,
    comment_in,
    comment_page,
    comment_revisions,
    delete_comment,
    edit_comment,
    like_comment,
    like_counts,
    liked_ids,
    stance_tallies,
    stance_tally,
    thread_replies,
    unlike_comment,
    write_summary,
)
from portal.proposals.services.lifecycle import (
    apply_due,
    archive_expired,
    close_deliberation,
    end_budget_project,
    end_notice,
    enter_budget_round,
    enter_notice,
    enter_voting,
    mark_evaluated,
    move_to_deliberation,
    record_budget_result,
    record_decision,
    return_to_deliberation,
)
from portal.proposals.services.lists import (
    EVENT_LABELS,
    community_proposals,
    event_label,
    my_drafts,
    new_proposals_feed,
    proposal_at,
    proposal_in,
    step_dates,
    timeline,
    versions,
)
from portal.proposals.services.supports import (
    has_supported,
    support,
    supported_ids,
    supported_in,
    withdraw_support,
)
from portal.proposals.services.writing import (
    COST_MAX,
    DAYS_RANGE,
    ISSUE_CATEGORY_MAP,
    NOTICE_DAYS_RANGE,
    THRESHOLD_RANGE,
    create_proposal,
    escalate_issue,
    publish,
    publish_proposal,
    settings_for,
    update_proposal,
    update_settings,
    withdraw,
)
