"""The profile snippets for transfers and feedback render their forms (the profile
branch includes them) and their forms parse what the services take."""

import uuid

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import translation

from loyalty.forms import FeedbackForm, TransferForm
from tests.factories import ProgramFactory


@pytest.mark.django_db
def test_transfer_snippet_shows_the_program_limits():
    program = ProgramFactory(transfers_enabled=True, transfer_min_points=50,
                             transfer_monthly_limit=1000)  # fmt: skip
    request = RequestFactory().get("/profile/")

    with translation.override("es"):
        html = render_to_string(
            "profile/_transfer.html",
            {
                "transfer_form": TransferForm(initial={"key": uuid.uuid4().hex}),
                "transfer_url": "/profile/transfers",
                "program": program,
            },
            request=request,
        )

    assert 'action="/profile/transfers"' in html
    assert "50" in html
    assert "1000" in html
    assert 'type="hidden" name="key"' in html
    assert "Dar puntos" in html


def test_feedback_form_parses_a_rating():
    form = FeedbackForm({"rating": "4", "wanted_rewards": "Free shipping"})

    assert form.is_valid()
    assert form.cleaned_data["rating"] == 4
    assert not FeedbackForm({"rating": "9"}).is_valid()


def test_feedback_snippet_renders():
    request = RequestFactory().get("/profile/")
    html = render_to_string(
        "profile/_feedback.html",
        {"feedback_form": FeedbackForm(), "feedback_url": "/profile/feedback"},
        request=request,
    )

    assert 'name="rating"' in html
    assert 'action="/profile/feedback"' in html
