"""A sign-in token is spent once, however many requests use it at the same moment.

Real threads against PostgreSQL: each use locks the token's row, so the second and
later uses see it spent.
"""

from urllib.parse import urlsplit

import pytest
from django.test import Client

from loyalty.errors import SignInLinkInvalid
from loyalty.models import ProfileToken
from loyalty.services.profile_access import (
    profile_link_create,
    profile_link_use,
    signin_email_send,
    signin_email_use,
)
from tests.factories import MemberFactory
from tests.threads import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def test_ten_uses_of_one_email_link_at_once_sign_in_once(mailoutbox):
    member = MemberFactory()
    merchant = member.program.merchant
    assert signin_email_send(program=member.program, email=member.email, language="en")
    secret = mailoutbox[-1].body.split("/sign-in/")[1].split("/")[0]

    outcomes = at_once([lambda: signin_email_use(merchant=merchant, secret=secret)] * 10)

    signed = [o for o in outcomes if not isinstance(o, Exception)]
    assert [m.pk for m in signed] == [member.pk]
    assert all(isinstance(o, SignInLinkInvalid) for o in outcomes if o not in signed)
    assert ProfileToken.objects.get().used_at is not None


def test_ten_browsers_following_one_deep_link_at_once_get_one_session():
    member = MemberFactory()
    url, _ = profile_link_create(program=member.program, member_external_id=member.external_id)
    path = urlsplit(url).path

    statuses = at_once([lambda: Client().get(path).status_code] * 10)

    assert sorted(statuses) == [302] + [400] * 9


def test_deep_link_service_spends_the_token_once():
    member = MemberFactory()
    url, _ = profile_link_create(program=member.program, member_external_id=member.external_id)
    token = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]

    outcomes = at_once([lambda: profile_link_use(token=token)] * 8)

    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
