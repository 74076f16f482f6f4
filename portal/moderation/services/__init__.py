"""Moderation: residents flag what they find abusive, three flags from different people hide it pending
review, and the community's committee restores it, hides it with a reason shown in its place, or locks a
discussion. Members never moderate their own words, every action is audited, and the author is told why.

The four kinds of item share one registry (ITEMS) so the queue, the views and the templates treat them
alike: the model, where the item belongs, who wrote it, a short excerpt for the queue, and its public link.

The rules live in one module per concern: `items` (the registry of flaggable items and who sees
them), `flagging`, `moderating` (the moderators' actions), `queue`, `hidden`; `_common` holds what
several of them share (the notification events, hiding and showing an item). Import from
`portal.moderation.services`."""
from portal.moderation.models import HIDE_AFTER_FLAGS
from portal.moderation.services._common import NOTE_MAX, REASON_MAX, moderators_of
from portal.moderation.services.flagging import flag, has_flagged, open_flag_count
from portal.moderation.services.hidden import HIDING_ACTIONS, HiddenRow, hidden_items
from portal.moderation.services.items import (
    EXCERPT_MAX,
    ITEM_LABELS,
    ITEMS,
    ItemKind,
    can_view_item,
    is_hidden_for,
    is_lockable,
    item,
    kind_of,
    link_for,
    moderated_community_ids,
)
from portal.moderation.services.moderating import hide, lock, restore, unlock
from portal.moderation.services.queue import QueuePage, QueueRow, queue, queue_count
