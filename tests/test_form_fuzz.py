"""Property-based fuzzing of every form (issue #18): hypothesis posts generated values — control characters,
text-direction controls, very long text, huge and negative numbers, numbers that are not numbers — into the
fields of every POST route of the URL map, as a person the view lets through, and no answer is a 5xx.

The routes, who may post them and the names each view reads are found as in tests/test_form_input.py (a
recording request.form while a NUL beside the form is posted). The number of examples is small and bounded
(FORM_FUZZ_EXAMPLES, 60 unless set), with no per-example deadline, so the file stays under a minute; CI runs it
on PostgreSQL, the database that refuses what SQLite keeps. A generated value may be valid and be saved: only
5xx answers fail."""
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.actions.conftest import world as actions_world  # noqa: F401
from tests.auth.test_authorization_matrix import world as matrix_world  # noqa: F401
from tests.issues.conftest import world as issues_world  # noqa: F401
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.test_form_input import (  # noqa: F401
    NOT_FIELDS,
    NUL,
    PEOPLE,
    PROBE,
    WHOLE,
    fuzz,
    let_through,
    post_rules,
    route_request,
    row_counts,
)
from tests.votes.conftest import world as votes_world  # noqa: F401

settings.register_profile("form-fuzz", max_examples=int(os.environ.get("FORM_FUZZ_EXAMPLES", "60")), deadline=None,
                          derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])

ODD = ["\x00", "a\x00b", "\x01\x1f\x7f", "\u202e\u2066名字\u2069", "\u200b", "\ufeff", "9" * 30, "-9" * 12,
       "2147483648", "-2147483649", "1e309", "NaN", "-0", "0x10", "１２", "²", "", " ", "\t\n\r",
       "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --", "%00", "\\", "😀" * 40, "名" * 5000]

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
NUMBER = st.integers(min_value=-(10 ** 30), max_value=10 ** 30).map(str)
VALUE = st.one_of(st.sampled_from(ODD), TEXT, NUMBER)


def _targets(app, fuzz, ids):
    """(endpoint, person, url, posted values every request carries, the names the view reads) for each POST
    route whose view reads what is posted."""
    targets = []
    for rule in post_rules(app):
        url, base = route_request(app, rule, ids, fuzz.w)
        for attribute in PEOPLE:
            probe = fuzz.send(attribute, "POST", url, {**base, PROBE: NUL}, rule.endpoint, writes_ok=True)
            seen = fuzz.seen
            if let_through(probe) and (seen.forms or WHOLE in seen.read):
                names = sorted(seen.read - NOT_FIELDS - {WHOLE})
                if names:
                    targets.append((rule.endpoint, attribute, url, base, names))
                break
    return targets


def test_generated_values_in_every_form_never_give_a_server_error(app, fuzz):  # noqa: F811
    fuzz, ids = fuzz
    targets = _targets(app, fuzz, ids)
    assert len(targets) >= 40, f"only {len(targets)} forms found to fuzz"
    fuzz.counts = row_counts()

    @settings(settings.get_profile("form-fuzz"))
    @given(data=st.data())
    def post_generated(data):
        endpoint, attribute, url, base, names = data.draw(st.sampled_from(targets), label="route")
        values = data.draw(st.fixed_dictionaries({}, optional=dict.fromkeys(names, VALUE)), label="values")
        response = fuzz.send(attribute, "POST", url, {**base, **values}, f"POST {endpoint} as {attribute}: "
                             f"{values!r}", writes_ok=True)
        assert response.status_code < 500, fuzz.problems[-1]

    post_generated()
