"""Ballots (表决): opening one on a proposal in consultation, announcing it, freezing the electorate when
voting opens, casting and changing votes (online, or on paper entered by the committee), extending once,
closing at the close time or early, deciding the result, and reading tallies, receipts and the log.

Every function that changes something takes the acting person first, checks the named rule in
`portal.auth.permissions`, validates everything before writing anything, writes an audit entry and
notifies the people concerned. Callers commit; a DomainError leaves nothing written. `now=None` means
utcnow(); tests pass explicit times.

Integrity under load: every cast locks the ballot's row (`SELECT … FOR UPDATE`; SQLite serializes writers
anyway), reads the log's head and length, appends the next entry to the hash chain and upserts the one
live vote of the voter; the unique constraint on (ballot, voter) is the database's last word. Closing
takes the same lock, so no cast slips in between the count and the close.

Counting is done by the database: one GROUP BY over the live votes joined to the frozen electorate
(weights stored at opening), never by loading ballots into Python; `portal.votes.counting` decides. That
full count runs at close; while a ballot is open its pages read the running totals every cast keeps under
the lock (`portal.votes.totals`), which verification checks against the recount from the log.

Hidden results stay hidden: `visible_tally` is the only way a page gets numbers, and it answers None while
a ballot with hidden results is not closed. Secret ballots never show who voted what: the published log
of a secret ballot carries receipts, choices and weights only, and nothing is audited per online cast.

The rules live in one module per concern: `opening`, `casting`, `closing` (with time, extending and
the outcome), `results`, `receipts` (the log and its verification), `lists`, `proxies` (书面委托) and
`paper` (the printed forms' QR tokens); `_common` holds what several
of them share. Import from `portal.votes.services`."""
from portal.votes.services._common import (
    CHOICES_RANGE,
    LOG_PAGE_SIZE,
    NOTICE_MAX,
    OPENING_GRACE,
    OPTION_LABEL_MAX,
    QUESTION_MAX,
    REASON_MAX,
    RECEIPT_MAX,
    STATEMENT_MAX,
    STORED_LABELS,
    YES_NO_LABELS,
    _notify_all,
    _payload,
    option_label,
)
from portal.votes.services.casting import cast, enter_paper
from portal.votes.services.closing import apply_due, apply_due_ballots, close, extend, record_outcome
from portal.votes.services.lists import (
    VoteBlock,
    ballot_at,
    ballot_in,
    ballots_for_proposal,
    community_ballots,
    my_votes,
    needs_my_vote,
    vote_block,
)
from portal.votes.services.opening import live_ballot, open_ballot
from portal.votes.services.paper import form_token, form_token_ok
from portal.votes.services.proxies import (
    ballot_proxies,
    held_by,
    live_proxy,
    proxy_cap,
    record_proxy,
    revoke_proxy,
    voted_proxy_ids,
)
from portal.votes.services.receipts import (
    LogPage,
    LogRow,
    check_receipt,
    log_entries,
    verify,
    verify_ballot_command,
)
from portal.votes.services.results import (
    SECRET_PARTICIPATION_MIN,
    participation,
    participation_shown,
    result_details,
    results_visible,
    tally,
    visible_tally,
)
from portal.votes.services.scope import check_scope, entrances_by_building, estates_of, opening_committees
from portal.votes.totals import rebuild_running_totals, running_figures
