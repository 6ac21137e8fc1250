"""Fuzzing the API from its own OpenAPI document (schemathesis).

Every operation gets a bounded number of generated requests (valid and
invalid bodies, odd path ids, headers), sent through the real WSGI stack with
a key holding every scope, against a program with a member, an order and a
coupon so that look-ups can hit. No answer may be a server error, use a status
code the document does not list, or break the documented response schema.
"""

import os
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from loyalty.services.orders import order_record
from tests.factories import ProgramFactory, api_key_for
from tests.rewards.factories import CouponFactory

# Bounded so `make test` stays quick; SCHEMATHESIS_MAX_EXAMPLES=500 for a deeper run.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzz_key(db) -> str:
    program = ProgramFactory(currency="EUR")
    order_record(program=program, external_id="A-1", member_external_id="cust-1",
                 amount=Decimal("25.00"), currency="EUR")  # fmt: skip
    CouponFactory(program=program, member__external_id="cust-2")
    return api_key_for(program)


@pytest.fixture
def keep_connection():
    """As Django's test client does: the test's transaction must outlive each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# Loaded at collection: generating the document needs Django but no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_generated_request_gets_a_server_error_or_breaks_the_schema(
    case, fuzz_key, keep_connection
):
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_key}"}, checks=CHECKS)
