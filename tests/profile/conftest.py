import re
import uuid
from urllib.parse import urlsplit

import pytest
from django.core import mail

from loyalty.services.profile_access import profile_link_create

LINK = re.compile(r"https?://[^\s\"<>]+/profile/[^\s\"<>]+/sign-in/[^\s\"<>/]+/")


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    """The sign-in and transfer counters live in the shared cache (Redis, shared with other
    tests running at the same time): each test counts under its own prefix, from zero."""
    settings.PROFILE_SIGNIN_KEY_PREFIX = f"profile-signin-test-{uuid.uuid4().hex}"
    settings.PROFILE_TRANSFER_KEY_PREFIX = f"profile-transfer-test-{uuid.uuid4().hex}"


def sign_in_link(to: str) -> str:
    """The sign-in link of the last email sent to ``to``."""
    sent = [m for m in mail.outbox if to in m.to]
    assert sent, f"no email to {to}"
    found = LINK.search(sent[-1].body)
    assert found, sent[-1].body
    return found.group(0)


def deep_link_path(member) -> str:
    url, _ = profile_link_create(program=member.program, member_external_id=member.external_id)
    return urlsplit(url).path


@pytest.fixture
def signed_in(client):
    """Sign ``member`` in on the test client through a shop's deep link; returns the client."""

    def make(member, on=None):
        on = on or client
        response = on.get(deep_link_path(member))
        assert response.status_code == 302, response.content
        return on

    return make
