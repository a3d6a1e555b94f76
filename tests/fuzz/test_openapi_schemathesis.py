"""Issue 7, the schema half: schemathesis generates requests from the OpenAPI document the app serves
at ``GET /v1/openapi.json`` (the ops API) and sends them straight to the WSGI app, with the admin
token and the session's real Redis. Every answer must be no 5xx, and must match the document:
a documented status, content type, headers and body schema; invalid input refused, valid input
accepted.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from service.openapi import PATHS
from tests.conftest import ADMIN_TOKEN
from tests.fuzz.conftest import ServerErrors, production_stack
from tests.fuzz.test_intake_fuzz import seed_submissions

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra (pip install -e '.[dev]')")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.fuzz

SCALE = float(os.environ.get("LEADGATE_FUZZ_SCALE", "1"))
EXAMPLES = max(1, round(25 * SCALE))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    ignored_auth,  # the same request without the token must be refused
]
# Read from the table the served document is generated from (not by calling build_spec(), which
# would change that table); test_served_document_lists_every_ops_operation checks they agree.
OPERATIONS = [(method.upper(), path) for path, item in PATHS.items() for method in item]
# Negative mode needs something to break: a body or a query parameter. (A bare string path parameter
# cannot be made schema-invalid, so those operations would leave hypothesis nothing to generate.)
CASES = [(method, path, GenerationMode.POSITIVE) for method, path in OPERATIONS] + [
    (method, path, GenerationMode.NEGATIVE)
    for method, path in OPERATIONS
    if "requestBody" in PATHS[path][method.lower()]
    or any(p.get("in") == "query" for p in PATHS[path][method.lower()].get("parameters", []))
]


# schemathesis's default for negative_data_rejection, plus 413: a body over LEADGATE_MAX_BODY_BYTES (4 KiB
# in the tests) is refused before it is validated, which for invalid data is a rejection like any other.
# (Whether the document lists 413 is status_code_conformance's business.)
NEGATIVE_REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]


@pytest.fixture
def api_schema(fuzz_app):
    config = schemathesis.Config.from_dict(
        {
            # The document's `admin` bearer scheme, so schemathesis itself sends (and knows it sent) the token.
            "auth": {"openapi": {"admin": {"bearer": ADMIN_TOKEN}}},
            # ... and keeps it out of the generated (and, in negative mode, mutated) headers: a mangled
            # token only ever meets the 401 check, which the intake fuzz covers already.
            "generation": {"with-security-parameters": False},
            "checks": {"negative_data_rejection": {"expected-statuses": NEGATIVE_REJECTED}},
        }
    )
    return schemathesis.openapi.from_wsgi("/v1/openapi.json", fuzz_app, config=config)


def test_openapi_document_is_served_every_time(fuzz_app) -> None:
    client = fuzz_app.test_client()
    first, second = client.get("/v1/openapi.json"), client.get("/v1/openapi.json")
    assert (first.status_code, second.status_code) == (200, 200), second.get_data()[:300]
    assert first.get_json() == second.get_json()


def test_served_document_lists_every_ops_operation(api_schema) -> None:
    served = {(op.method.upper(), op.path) for op in (result.ok() for result in api_schema.get_all_operations())}
    assert served == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {mode.value}" for m, p, mode in CASES])
def test_ops_api_conforms_to_its_openapi_document(
    fuzz_app, api_schema, server_errors: ServerErrors, method, path, mode
) -> None:
    client = fuzz_app.test_client()
    seeded = seed_submissions(client)  # so ids, filters and bulk operations meet real records
    operation = api_schema[path][method]
    strategies = [operation.as_strategy(generation_mode=mode)]
    if "{submission_id}" in path:
        strategies.append(operation.as_strategy(generation_mode=mode, path_parameters={"submission_id": seeded[0]}))

    for strategy in strategies:
        # Negative generation discards many drafts that turn out valid; that is its design, not a slow test.
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(case=strategy)
        def run(case) -> None:
            with production_stack():
                response = case.call()
            logged = server_errors.records[-1] if server_errors.records else ""
            server_errors.records.clear()
            try:
                case.validate_response(response, checks=CHECKS)
            except BaseException as exc:
                if logged:  # a 5xx: the traceback the app logged, beside schemathesis's curl to reproduce it
                    exc.add_note(logged)
                raise
            body = response.content
            assert b"Traceback" not in body and b'File "' not in body, body[:2000]

        run()
