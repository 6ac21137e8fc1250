"""Fuzzing the API from its own OpenAPI document (schemathesis), with every check on.

The document is the one a key of the fuzzed program gets (exact for its program: its
currency, its amounts' decimals). Every operation gets a bounded number of generated
requests (schema-valid and schema-violating bodies, odd path ids, headers at and past their
limits), sent through the real WSGI stack with a key holding every scope, against a program
with a member, an order and a coupon so that look-ups can hit. Every built-in check runs:
no server error; only documented statuses, content types, headers and bodies; schema-valid
requests accepted and schema-violating ones refused (400); a required header left out
refused; and ours: every error's ``code`` is one its operation documents. Then the stateful
phase follows the document's OpenAPI links (``POST /orders`` -> the order read and refunded,
its member, ledger and coupons read) with the ids the answers gave.

Accepted, for a schema-valid request: 2xx, and the refusals that depend on the program's
data rather than the request's form (``schema_errors.STATE_CODES``: no such member, a
conflict with an earlier request, ``insufficient_points``, a coupon's refusals, a rate
limit), each with a code the operation documents. Any other refusal of a schema-valid
request fails (``only_state_refuses_valid_data``): 400, or a 422 whose code is about the
request's form (``currency_mismatch`` in this document, exact for the program's currency):
the document must say what the API refuses.
"""

import itertools
import json
import os
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.config import PositiveDataAcceptanceConfig

from loyalty.api import schema_errors
from loyalty.services.api_keys import api_key_create
from loyalty.services.orders import order_record
from tests.factories import ProgramFactory
from tests.rewards.factories import CouponFactory

# Bounded so `make test` stays quick; SCHEMATHESIS_MAX_EXAMPLES=500 for a deeper run.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "6"))
STATEFUL_EXAMPLES = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "8"))
WELL_FORMED_ANSWERS = ["2xx", "401", "403", "404", "409", "422", "429"]
HYPOTHESIS = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": True}


@schemathesis.check
def error_code_is_documented(ctx, response, case):
    """An error answer's ``code`` is one of those its operation lists for that status."""
    if response.status_code < 400:
        return
    documented = case.operation.definition.raw["responses"].get(str(response.status_code))
    if documented is None:
        return  # status_code_conformance speaks for undocumented statuses
    code = json.loads(response.content).get("code")
    codes = documented.get("x-error-codes", [])
    assert code in codes, f"{response.status_code} {code!r} is not documented: {codes}"
    return


def state_refusal_problem(status: int, code: object, documented: list[str]) -> str | None:
    """Why a refusal of a schema-valid request is wrong, or None when it is one that depends on
    the program's data (``STATE_CODES``) and the operation documents for the status."""
    if status < 400 or status in (401, 403):
        return None  # answered, or the key's doing (the auth checks speak for those)
    if code not in schema_errors.STATE_CODES:
        return f"a schema-valid request got {status} {code!r}: the schema should refuse it"
    if code not in documented:
        return f"{status} {code!r} is not in the operation's x-error-codes: {documented}"
    return None


@schemathesis.check
def only_state_refuses_valid_data(ctx, response, case):
    """A schema-valid request is refused only for the program's data, never for its form."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    documented = case.operation.definition.raw["responses"].get(str(response.status_code), {})
    try:
        code = json.loads(response.content).get("code")
    except (ValueError, AttributeError):
        code = None
    problem = state_refusal_problem(response.status_code, code, documented.get("x-error-codes", []))
    assert problem is None, problem
    return


# The key every request carries, known before any case is made: schemathesis builds the
# examples and coverage phases' cases (and their auth) before the test's fixtures run, so a
# key made by the fixture would reach only the fuzzing phase (the others would all be 401).
# Each test makes its program with this key in its own transaction.
FUZZ_KEY = "lk_fuzz-key-of-the-schemathesis-test"


@pytest.fixture
def fuzz_key(db, own_cache) -> str:
    program = ProgramFactory(currency="EUR")
    order_record(program=program, external_id="A-1", member_external_id="cust-1",
                 amount=Decimal("25.00"), currency="EUR")  # fmt: skip
    CouponFactory(program=program, member__external_id="cust-2")
    api_key_create(merchant=program.merchant, scopes=["orders", "checkout", "manage"],
                   raw_key=FUZZ_KEY)  # fmt: skip
    return FUZZ_KEY


@pytest.fixture
def keep_connection():
    """As Django's test client does: the test's transaction must outlive each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# Loaded at collection (generating the document needs Django but no database): the document
# a key of a EUR program gets (exact for the currency: `?currency=` says which).
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/schema/?format=json&currency=EUR", get_wsgi_application()
)
schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=WELL_FORMED_ANSWERS
)


def coupon_terms_break_a_rule(coupon: dict) -> bool:
    """A coupon's terms whose fields disagree (the terms' descriptions say so in words)."""
    kind, value = coupon.get("kind"), coupon.get("value")
    if kind in ("percent", "fixed"):
        try:
            amount = Decimal(str(value))
        except ArithmeticError:
            return True  # a percent or fixed discount takes off something
        if amount <= 0 or (kind == "percent" and amount > 100):
            return True  # a percentage is at most 100
    if kind in ("free_product", "free_shipping"):
        try:
            if value is not None and Decimal(str(value)) != 0:
                return True  # a free product or free shipping has no value
        except ArithmeticError:
            return True
    # A name as the API reads it: trimmed (blank is none).
    product = [
        name.strip() if isinstance(name, str) else name
        for name in (coupon.get("product_sku"), coupon.get("product_category"))
    ]
    if kind == "free_product":
        if sum(1 for name in product if name) != 1:
            return True  # a free product names its SKU or its category (one)
        scope = coupon.get("scope")
        if isinstance(scope, dict) and any(scope.values()):
            return True  # a free product applies to its product only
    elif any(product):
        return True  # only a free product names a product
    uses = coupon.get("uses", 1)
    uses = uses if isinstance(uses, int) else 1
    for name in ("uses_per_member", "allowance_uses"):
        limit = coupon.get(name)
        if isinstance(limit, int) and not 0 < limit <= uses:
            return True  # at most the coupon's uses
    # the uses per period and the period come together
    return (coupon.get("allowance_uses") is None) != (not coupon.get("allowance_period"))


def breaks_a_rule_between_fields(body) -> bool:
    """The rules between fields that OpenAPI 3.0's JSON Schema cannot state (the operations'
    descriptions state them in words): generated bodies that break one are not sent."""
    if not isinstance(body, dict):
        return False
    for order in [
        body,
        *(body.get("orders") or [] if isinstance(body.get("orders"), list) else []),
    ]:
        if not isinstance(order, dict):
            continue
        breakdown = order.get("breakdown")
        if isinstance(breakdown, dict) and isinstance(order.get("amount"), str | int | float):
            parts = [breakdown.get(p, "0") for p in ("shipping", "tax", "paid_with_gift_card")]
            # an amount is a decimal string or a JSON number
            if all(isinstance(p, str | int | float) and not isinstance(p, bool) for p in parts):
                try:
                    if sum(Decimal(str(p)) for p in parts) > Decimal(str(order["amount"])):
                        return True  # shipping, tax and gift card are parts of the amount
                except ArithmeticError:
                    pass
    coupon = body.get("coupon")
    if isinstance(coupon, dict) and coupon_terms_break_a_rule(coupon):
        return True
    if body.get("counts_for_tier") is True and isinstance(body.get("points"), int):
        if body["points"] < 0:
            return True  # only a grant (points > 0) counts toward tiers
    placed_at = body.get("placed_at")
    if isinstance(placed_at, str) and placed_at > "2026":  # ISO 8601: compares as text
        return True  # an order cannot be placed in the future (the next years are)
    return body.get("referred_by") not in (None, "", "cust-1")  # an existing member


def rule_lists_break_a_rule(body: dict) -> bool:
    """The program's rule lists: the rules between their items, and between a campaign's fields,
    that JSON Schema cannot state (each field's description states its rule)."""
    tiers = body.get("tiers")
    if isinstance(tiers, list) and all(isinstance(tier, dict) for tier in tiers):
        names = [str(tier.get("name") or "").strip().lower() for tier in tiers]
        points = [tier.get("min_points") for tier in tiers]
        if len(set(names)) < len(names) or len(set(map(str, points))) < len(points):
            return True  # tiers: one name (in any case) and one number of points each
    thresholds = body.get("thresholds")
    if isinstance(thresholds, list) and all(isinstance(item, dict) for item in thresholds):
        points = [str(item.get("points")) for item in thresholds]
        if len(set(points)) < len(points):
            return True  # thresholds: at different points
        coupons = [item.get("coupon") for item in thresholds]
        if any(isinstance(c, dict) and coupon_terms_break_a_rule(c) for c in coupons):
            return True  # each threshold's coupon as a coupon's terms
    campaigns = body.get("campaigns")
    for campaign in campaigns if isinstance(campaigns, list) else []:
        if not isinstance(campaign, dict):
            continue
        start, end = campaign.get("start_date"), campaign.get("end_date")
        if isinstance(start, str) and isinstance(end, str) and end < start:
            return True  # a campaign ends on or after its first day (ISO dates compare as text)
        try:
            multiplier = Decimal(str(campaign.get("multiplier", 1)))
        except ArithmeticError:
            continue
        if multiplier == 1 and not campaign.get("fixed_bonus"):
            return True  # a campaign gives something: a multiplier above 1 or a fixed bonus
    return False


@schema.hook("filter_body")
def only_bodies_the_schema_can_judge(ctx, body):
    if isinstance(body, dict) and rule_lists_break_a_rule(body):
        return False
    return not breaks_a_rule_between_fields(body)


@schema.hook("filter_query")
def no_made_up_cursors(ctx, query):
    """A cursor is opaque: only one from a page's `next` or `previous` link is valid."""
    return not (isinstance(query, dict) and "cursor" in query)


@schema.hook("filter_case")
def only_cases_the_schema_can_judge(ctx, case):
    """The same two filters for the coverage phase's cases, which the body and query hooks
    do not see."""
    body_ok = only_bodies_the_schema_can_judge(ctx, case.body)
    return body_ok and no_made_up_cursors(ctx, case.query)


# Every case's Idempotency-Key made its own: the coverage phase sends the header's example
# value with every body, and all but the first would be 409 idempotency_conflict, never
# reaching what they test.
IDEMPOTENCY_KEYS = itertools.count()


@schema.hook("map_case")
def a_new_idempotency_key_each_time(ctx, case):
    """Within the documented 1..255 characters, a key made unique; one outside them (what a
    negative case tests) is left as it is."""
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and 1 <= len(key) <= 255:
        suffix = f"~{next(IDEMPOTENCY_KEYS)}"
        case.headers["Idempotency-Key"] = key[: 255 - len(suffix)] + suffix
    return case


@schema.hook("before_add_examples")
def only_examples_the_schema_can_judge(ctx, examples):
    """And for the examples phase's cases (the document's examples, completed)."""
    examples[:] = [
        a_new_idempotency_key_each_time(ctx, case)
        for case in examples
        if only_cases_the_schema_can_judge(ctx, case)
    ]


@schema.auth(refresh_interval=None)
class FuzzKey:
    """The Bearer key: schemathesis' own checks (``ignored_auth``) know it is the auth."""

    def get(self, case, context):
        return FUZZ_KEY

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, **HYPOTHESIS)
def test_no_generated_request_gets_a_server_error_or_breaks_the_schema(
    case, fuzz_key, keep_connection
):
    # No `checks=`: schemathesis runs all of its checks, and ours.
    case.call_and_validate()


def test_stateful_links_from_an_order_hold(fuzz_key, keep_connection):
    run_state_machine_as_test(
        schema.as_state_machine(),
        settings=settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=6, **HYPOTHESIS),
    )


@pytest.mark.parametrize(
    ("status", "code", "documented", "wrong"),
    [(200, None, [], False),
     (422, "insufficient_points", ["insufficient_points"], False),
     (404, "member_not_found", ["member_not_found"], False),
     (422, "currency_mismatch", ["currency_mismatch"], True),  # the schema's pattern refuses it
     (400, "validation_error", ["validation_error", "parse_error"], True),
     (422, "insufficient_points", ["transfers_disabled"], True),  # not this operation's
     (422, None, [], True)],
)  # fmt: skip
def test_a_valid_request_may_be_refused_only_for_the_programs_data(status, code, documented, wrong):
    assert (state_refusal_problem(status, code, documented) is not None) is wrong
