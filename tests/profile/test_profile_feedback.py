"""Feedback from the profile page: a signed-in member rates the program (1 to 5) and says
which rewards they would value; the answer is stored for their program, thanked for, and a
bad rating is shown on the form while nothing is stored."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from loyalty.models import Feedback
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_the_page_has_an_accessible_feedback_form(signed_in, member):
    page = signed_in(member).get("/profile/").content.decode()

    assert 'id="feedback-title">Your opinion<' in page
    assert "<legend>How do you like the program?</legend>" in page
    assert '<label for="id_rating_0"><input type="radio" name="rating" value="1"' in page
    assert '<label for="id_wanted_rewards">Which rewards would you value?</label>' in page


def test_a_member_rates_the_program_and_is_thanked(signed_in, member):
    client = signed_in(member)

    response = client.post("/profile/feedback/", {"rating": "4", "wanted_rewards": " Coffee "})

    assert response.status_code == 302
    assert response["Location"] == "/profile/#feedback"
    answer = Feedback.objects.get()
    assert (answer.member_id, answer.program_id) == (member.pk, member.program_id)
    assert (answer.rating, answer.wanted_rewards) == (4, "Coffee")
    assert "Thank you for your feedback!" in client.get("/profile/").content.decode()


def test_the_feedback_is_always_the_signed_in_members(signed_in, member):
    other = MemberFactory(program=member.program)

    signed_in(member).post(
        "/profile/feedback/", {"rating": "5", "member": other.pk, "member_id": other.pk}
    )

    assert Feedback.objects.get().member_id == member.pk


@pytest.mark.parametrize(
    ("rating", "message"),
    [
        ("", "This field is required."),
        ("9", "Select a valid choice. 9 is not one of the available choices."),
        ("x", "Select a valid choice. x is not one of the available choices."),
    ],
)
def test_a_bad_rating_is_shown_on_the_form_and_nothing_is_stored(
    signed_in, member, rating, message
):
    response = signed_in(member).post(
        "/profile/feedback/", {"rating": rating, "wanted_rewards": "Cake"}
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert "Cake</textarea>" in page  # what was typed is kept
    assert not Feedback.objects.exists()


def test_too_long_a_wish_is_refused(signed_in, member):
    response = signed_in(member).post(
        "/profile/feedback/", {"rating": "3", "wanted_rewards": "x" * 2001}
    )

    assert response.status_code == 400
    assert "Ensure this value has at most 2000 characters (it has 2001)." in (
        response.content.decode()
    )
    assert not Feedback.objects.exists()


def test_the_thanks_follow_the_members_language(signed_in, program):
    member = MemberFactory(program=program, locale="tr")
    client = signed_in(member)

    client.post("/profile/feedback/", {"rating": "5"})

    page = client.get("/profile/").content.decode()
    assert "Geri bildiriminiz için teşekkürler!" in page


def test_signed_out_visitors_cannot_send_feedback(client, member):
    response = client.post("/profile/feedback/", {"rating": "5"})

    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    assert not Feedback.objects.exists()


def test_feedback_takes_only_csrf_protected_posts(signed_in, member):
    assert signed_in(member).get("/profile/feedback/").status_code == 405
    strict = signed_in(member, on=Client(enforce_csrf_checks=True))

    assert strict.post("/profile/feedback/", {"rating": "5"}).status_code == 403
    assert not Feedback.objects.exists()


def test_sending_feedback_takes_a_constant_number_of_queries(signed_in, member):
    client = signed_in(member)
    counts = []
    for wish in ("", "A free coffee every month"):
        with CaptureQueriesContext(connection) as queries:
            assert client.post("/profile/feedback/", {"rating": "5", "wanted_rewards": wish})
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert Feedback.objects.count() == 2
