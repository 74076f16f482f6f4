"""GeoReport v2 endpoints: each resource as .json and .xml; errors as the spec's list of {code, description}.

Reading is public (only what the portal's public pages show); creating needs an admin-issued api_key. A read
that names an api_key is counted in that key's usage, and refused (403) when the key is wrong or revoked."""
from flask import current_app, g, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from portal import observability
from portal.clock import utcnow
from portal.extensions import db
from portal.open311 import api, services
from portal.open311.answers import answers
from portal.open311.formats import errors, render, respond, respond_with
from portal.open311.services import Open311Error
from portal.web import absolute_url, public

FORMATS = "<any(json,xml):fmt>"


def _fmt() -> str:
    return (request.view_args or {}).get("fmt") or ("xml" if request.path.endswith(".xml") else "json")


@api.errorhandler(Open311Error)
def open311_error(error):
    db.session.rollback()
    response = errors(_fmt(), error.code, error.description)
    if error.code == 429:
        response.headers["Retry-After"] = "60"
    return response


@api.errorhandler(HTTPException)
def http_error(error):
    db.session.rollback()
    if isinstance(error, RequestEntityTooLarge):
        return errors(_fmt(), 400, _l("The request is too large: description is at most %(max)d characters.",
                                      max=services.DESCRIPTION_MAX))
    code = error.code or 500
    descriptions = {404: _l("Unknown resource."), 405: _l("This resource does not accept this method.")}
    return errors(_fmt(), code if code >= 400 else 400, descriptions.get(code, error.name))


@api.errorhandler(DBAPIError)
@api.errorhandler(PoolTimeout)
def database_error(error):
    """While the database cannot be reached, a 503 in the spec's format (clients retry after Retry-After)."""
    if not observability.database_unreachable(error):
        return observability.database_error(error)
    observability.note_unreachable(error)
    response = errors(_fmt(), 503, _l("The service is briefly unavailable: please try again shortly."))
    response.headers["Retry-After"] = str(observability.UNAVAILABLE_RETRY_SECONDS)
    return response


@api.before_request
def refuse_nul_characters():
    """No database stores a NUL character in text (PostgreSQL refuses it): a 400 before anything looks."""
    values = list(request.args.items(multi=True))
    if request.method == "POST":
        values += list(request.form.items(multi=True))
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in values):
        raise Open311Error(400, _l("Parameters may not contain NUL characters."))


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
PREFLIGHT_HEADERS = "Content-Type, Accept, Accept-Language, If-None-Match"
PREFLIGHT_MAX_AGE = "86400"


@api.before_request
def answer_preflight():
    """OPTIONS (a browser's CORS preflight, or a client asking): the methods this resource allows and the
    request headers a browser-based 311 app may send; no key, no body."""
    if request.method != "OPTIONS":
        return None
    rest = request.path[len(api.url_prefix):].lstrip("/")
    methods = "GET, HEAD, POST, OPTIONS" if rest in ("requests.json", "requests.xml") else "GET, HEAD, OPTIONS"
    response = current_app.response_class(status=204)
    response.headers["Allow"] = methods
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = methods
    response.headers["Access-Control-Allow-Headers"] = PREFLIGHT_HEADERS
    response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    response.headers["Cache-Control"] = "no-store"
    return response


@api.before_request
def refuse_bodies_that_are_not_forms():
    """GeoReport v2 POSTs are form-encoded: a JSON (or any other) body gets a 400 that says so, before the
    api_key is looked for (it would be inside the JSON, where a form reader never finds it)."""
    if request.method == "POST" and request.mimetype and request.mimetype not in FORM_TYPES:
        raise Open311Error(400, _l("form-encoded body expected: send the parameters as "
                                   "application/x-www-form-urlencoded (or multipart/form-data)."))


@api.before_request
def refuse_unusable_keys_on_reads():
    """A read without a key is public; a read that names one uses it as a creation does, so a revoked or wrong
    key answers 403 rather than being read as a visitor (the integrator learns at once that it is cut off)."""
    if request.method in ("GET", "HEAD") and (request.args.get("api_key") or "").strip():
        g.open311_key = services.key_for(request.args["api_key"])


def _jurisdiction(params):
    return services.jurisdiction(params.get("jurisdiction_id"))


def _note_use(endpoint, status=200):
    """A GET that names a valid api_key is recorded in the key's usage (not in the audit log: reads are many)."""
    key = g.get("open311_key")
    if key is None:
        return
    services.record_use(key, "GET", endpoint, status)
    db.session.commit()


@api.get(f"/discovery.{FORMATS}")
@public
def discovery(fmt):
    endpoint = absolute_url("open311.api.discovery", fmt="json").rsplit("/", 1)[0]
    data = {
        "changeset": services.CHANGESET,
        "contact": str(_l("Ask the portal's administrators; see %(url)s", url=absolute_url("open311.docs"))),
        "key_service": absolute_url("open311.docs"),
        "endpoints": [{
            "specification": services.SPECIFICATION,
            "url": endpoint,
            "changeset": services.CHANGESET,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    }
    return respond(fmt, data, root="discovery")


@api.get(f"/services.{FORMATS}")
@public
def service_list(fmt):
    community = _jurisdiction(request.args)
    data = services.service_list(community)
    db.session.commit()  # default categories created on first use, as the issues pages do
    _note_use("services")
    return respond(fmt, data, root="services", item="service")


@api.get(f"/services/<service_code>.{FORMATS}")
@public
def service_definition(service_code, fmt):
    community = _jurisdiction(request.args)
    data = services.service_definition(community, service_code)
    _note_use("service_definition")
    return respond(fmt, data, root="service_definition")


@api.post(f"/requests.{FORMATS}")
@public
def create_request(fmt):
    params = request.form  # a body over the size limit raises here: answered as 400 by http_error
    token = params.get("api_key") or request.args.get("api_key")
    key = services.key_for(token)
    try:
        services.check_rate(key)
    except Open311Error as error:
        services.record_use(key, "POST", "requests", error.code)  # not counted by the limit itself
        db.session.commit()
        raise
    community = None
    try:
        community = _jurisdiction(_merged(params))
        created = services.create_request(key, community, params)
    except Open311Error as error:
        db.session.rollback()
        key = db.session.get(type(key), key.id)
        services.record_use(key, "POST", "requests", error.code)
        services.record_refusal(key, community, error)
        db.session.commit()
        raise
    services.record_use(key, "POST", "requests", 201)
    db.session.commit()
    current_app.logger.info("Open311 request %s created with key %s", created.issue.id, key.prefix)
    data = [{"service_request_id": str(created.issue.id), "service_notice": created.service_notice,
             "account_id": None}]
    # 201 Created, in both formats: a new resource, whose address goes in Location (see the docs page).
    response = respond(fmt, data, root="service_requests", item="request", status=201)
    response.headers["Location"] = absolute_url("open311.api.request_detail", request_id=created.issue.id, fmt=fmt)
    return response


def _merged(params):
    """jurisdiction_id may come in the body or the query string."""
    if params.get("jurisdiction_id"):
        return params
    return request.args


@api.get(f"/requests.{FORMATS}")
@public
def request_list(fmt):
    """Rendered once per query and state of the data (portal.open311.answers); a conditional GET whose ETag
    still matches gets a 304 without a body."""
    community = _jurisdiction(request.args)
    query = services.parse_request_query(community, request.args)
    now = utcnow()
    fingerprint = services.requests_fingerprint(community, query, now=now)
    key = (community.id, query, fmt, str(get_locale()))
    answer = answers().get(key, fingerprint)
    if answer is None:
        body = render(fmt, services.requests_for(community, query, now=now), root="service_requests", item="request")
        answer = answers().put(key, fingerprint, body)
    _note_use("requests")
    # Clients may keep the answer but must ask again (no-cache); the service names follow the language.
    response = respond_with(fmt, answer.body, cache="no-cache")
    response.set_etag(answer.etag)
    response.vary.add("Accept-Language")
    return response.make_conditional(request)


@api.get(f"/requests/<request_id>.{FORMATS}")
@public
def request_detail(request_id, fmt):
    community = _jurisdiction(request.args)
    data = services.find_request(community, request_id)
    _note_use("request")
    return respond(fmt, data, root="service_requests", item="request")


@api.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@api.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@public
def unknown(rest):
    """Anything else under /open311/v2/ answers in the spec's error format, not with an HTML page."""
    known = ("discovery.", "services.", "services/", "requests.", "requests/")
    if request.method != "GET" and any(rest.startswith(k) for k in known):
        raise Open311Error(405, _l("This resource does not accept this method."))
    raise Open311Error(404, _l("Unknown resource."))
