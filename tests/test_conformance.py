"""The conformance scenarios (conformance/*.yaml) hold against a live server, over HTTP,
exactly as ``python -m bench.conformance`` replays them against a deployment."""

import pytest

from bench.conformance import http_sender, mismatches, run_scenario, scenario_files
from tests.factories import ProgramFactory, api_key_for


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_the_conformance_scenario_holds_against_a_live_server(live_server, path):
    program = ProgramFactory(currency="EUR")
    send = http_sender(live_server.url, api_key_for(program))

    outcome = run_scenario(path, send)

    assert outcome.failures == []
    assert outcome.steps >= 4


def test_the_runner_reports_a_wrong_number_and_a_missing_key():
    expected = {"balance": 100, "coupons_issued": [{"value": "5.00"}], "tier": "gold"}
    actual = {"balance": 90, "coupons_issued": [{"value": "5.00", "code": "X"}]}

    assert mismatches(expected, actual) == [
        "body.balance: expected 100, got 90",
        "body.tier: missing",
    ]
