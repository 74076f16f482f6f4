"""Open311 GeoReport v2 over neighbourhood issues: keys, jurisdictions, services, creating and reading requests.

Functions here never touch `request`: views hand them the parameters (a MultiDict) and render what they
return. A refusal is an Open311Error carrying the HTTP status and the spec's error description; nothing is
written before every parameter has been checked (and any media fetched), so a refused request leaves nothing
behind. Issues are created through the issues area's hotline path, so routing, deadlines, the three rates
and the dashboard treat them like every other issue. Callers commit.

The rules live in one module per concern: `keys` (with the rate limit), `jurisdictions` (and the
service list), `creating`, `reading`, `webhooks` (telling the hotline); `_common` holds the refusal every
part raises. Import from `portal.open311.services`."""
from portal.issues.models import DESCRIPTION_MAX
from portal.open311.services._common import CHANGESET, SPECIFICATION, Open311Error
from portal.open311.services.creating import (
    ADDRESS_MAX,
    ATTRIBUTE_RE,
    EMAIL_MAX,
    EMAIL_RE,
    HTML_RE,
    MEDIA_MAX_BYTES,
    MEDIA_TIMEOUT,
    NAME_MAX,
    PHONE_RE,
    URL_MAX,
    Created,
    create_request,
    fetch_media,
    record_refusal,
)
from portal.open311.services.jurisdictions import jurisdiction, service_definition, service_list
from portal.open311.services.keys import (
    HOST_RE,
    KEY_NAME_MAX,
    MAX_HOSTS,
    RATE_LIMIT_MAX,
    RATE_WINDOW,
    TOKEN_PREFIX,
    all_keys,
    check_rate,
    create_key,
    hash_token,
    key_for,
    log,
    parse_hosts,
    record_use,
    revoke_key,
    update_key,
    usage_counts,
)
from portal.open311.services.reading import (
    MAX_IDS,
    MAX_RANGE,
    MAX_RESULTS,
    RequestQuery,
    _latest_public_events,
    find_request,
    find_requests,
    parse_datetime,
    parse_ids,
    parse_request_query,
    request_for_issue,
    requests_fingerprint,
    requests_for,
    serialize_rows,
)
from portal.open311.services.webhooks import (
    EVENTS,
    check_webhook_url,
    pending_counts,
    record_change,
    rotate_secret,
    set_webhook,
)
