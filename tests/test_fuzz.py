"""Schemathesis drives every operation of docs/openapi.yaml (as served at /openapi.json) against
the app in-process (WSGI), as a logged-in user: no response may be a 5xx, and every response must
be JSON (the /docs page excepted) that conforms to the document — status code, content type,
headers and body schema.

Each operation gets FUZZ_EXAMPLES generated cases (default 15: `make test` stays fast) on top of
schemathesis' examples and coverage phases; `make fuzz` runs many more. Generated `email`,
`femail`, `id`/`post` and `time` values are sometimes swapped for ones that name real rows (the
caller, other users, posts), so that the success and 9403 paths are fuzzed too, not only the
not-found codes."""

import json
import os
from collections import Counter

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import AuthToken
from friends.models import Friendship, Group
from tests.factories import make_comments, make_messages, make_post

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
# A fixed seed keeps `make test` reproducible; `make fuzz` draws a new one unless FUZZ_SEED is set.
FUZZ_SEED = os.environ.get("FUZZ_SEED", "20261125")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

config = schemathesis.Config.from_dict(
    {
        **({"seed": int(FUZZ_SEED)} if FUZZ_SEED else {}),
        "generation": {"max-examples": FUZZ_EXAMPLES, "database": "none"},
        # Stateful runs need links between operations, which the document does not declare.
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_wsgi("/openapi.json", WSGIHandler(), config=config)
# Schemathesis leaves out the path it loaded the document from; /openapi.json is an operation too.
schema.location = None

# Values that name real rows, by parameter name; filled by the `fuzz_world` fixture.
REAL_VALUES = {}
# Requests sent, by operation, for the summary line.
REQUESTS = Counter()


def _sometimes_real(values):
    """`values` as generated, or with some of its parameters set to values naming real rows."""
    if not isinstance(values, dict):
        return st.just(values)
    names = [name for name in values if REAL_VALUES.get(name)]
    if not names:
        return st.just(values)
    choices = {
        name: st.one_of(st.just(values[name]), st.sampled_from(REAL_VALUES[name])) for name in names
    }
    return st.fixed_dictionaries(choices).map(lambda chosen: {**values, **chosen})


@schema.hook
def flatmap_query(context, query):
    return _sometimes_real(query)


@schema.hook
def flatmap_body(context, body):
    return _sometimes_real(body)


@pytest.fixture(scope="module", autouse=True)
def fuzz_summary(request):
    """One line after the run: the seed (to repeat it with FUZZ_SEED) and what was sent."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter and capture and REQUESTS:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"\nfuzz: seed {config.seed}; {len(REQUESTS)} operations, "
                f"{sum(REQUESTS.values())} requests ({FUZZ_EXAMPLES} generated cases per "
                "operation, plus the examples and coverage phases' cases)"
            )


@pytest.fixture
def fuzz_world(make_user, settings):
    """The caller with a friend who posts (with comments) and one more user; the app served
    in-process on this test's database connection."""
    settings.ALLOWED_HOSTS = ["localhost"]
    caller = make_user(email="fuzzer@example.com", username="fuzzer", like="篮球,音乐")
    friend = make_user(email="friend@example.com", username="friend", like="篮球")
    stranger = make_user(email="stranger@example.com", like="音乐")
    Friendship.objects.create(owner=caller, friend=friend, group=Group.SPECIAL)
    Friendship.objects.create(owner=friend, friend=caller, group=Group.GOOD)  # they can chat
    posts = [make_post(friend, time=1_700_000_000), make_post(caller, time=1_700_000_100)]
    comments = make_comments(posts[0], caller, 3)
    received = make_messages(friend, caller, 3)
    sent = make_messages(caller, friend, 2, client_id=None)
    REAL_VALUES.update(
        email=[caller.email, caller.email.upper(), friend.email],  # the last one: 9403
        femail=[friend.email, stranger.email],
        id=[str(row.pk) for row in [*posts, *comments, *sent, *received]],
        post=[str(post.pk) for post in posts],
        message=[str(message.pk) for message in received],
        time=[str(post.time) for post in posts],
    )
    # Like Django's test client: keep the test's connection (and its transaction) open across
    # requests instead of closing it at the end of each.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield caller
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    REAL_VALUES.clear()


@schema.parametrize()
# The fixture's rows are meant to be shared by all the cases of an operation.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_answers_the_documented_json(case, fuzz_world):
    # A fresh token for every case: /logout and a password change revoke the ones before.
    token = AuthToken.objects.issue(fuzz_world)
    REQUESTS[case.operation.label] += 1
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
    content_type = response.headers["content-type"][0]
    if case.operation.label == "GET /docs" and response.status_code == 200:
        assert content_type.startswith("text/html")
    else:
        assert content_type == "application/json"
        assert isinstance(json.loads(response.content), dict)
