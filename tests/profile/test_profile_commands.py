"""Sign-in links from the command line: ``profile_sign_in_link`` and the demo's printout."""

from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command

from loyalty.profile.auth import SESSION_KEY

pytestmark = pytest.mark.django_db


def test_command_prints_a_link_that_signs_the_member_in_once(client, member):
    out = StringIO()

    call_command(
        "profile_sign_in_link", member.program.merchant.slug, member.external_id, stdout=out
    )
    path = urlsplit(out.getvalue().splitlines()[-1]).path

    assert client.post(path).status_code == 302
    assert client.session[SESSION_KEY] == member.pk
    assert client.post(path).status_code == 400


def test_command_refuses_an_unknown_member(member):
    with pytest.raises(CommandError, match="No member"):
        call_command("profile_sign_in_link", member.program.merchant.slug, "nobody")
