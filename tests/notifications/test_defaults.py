"""The shipped templates: every event, channel and language, valid in the sandbox, really
translated, and complete emails (text + HTML, unsubscribe link, language)."""

import pytest
from django.utils import translation

from notifications import rendering
from notifications.default_texts import LANGUAGES
from notifications.defaults import DEFAULTS, default_parts
from notifications.models import (
    NOTICE_EVENTS,
    PARTS,
    Channel,
    Event,
    Language,
    template_parts_check,
)
from notifications.services.templates import parts_render

CASES = [
    (language, event, channel)
    for language in Language.values
    for event in Event.values
    for channel in Channel.values
]


@pytest.mark.parametrize(("language", "event", "channel"), CASES)
def test_a_default_exists_and_passes_the_save_checks(language, event, channel):
    parts = DEFAULTS[language][event][channel]

    assert set(parts) == set(PARTS[channel])
    assert template_parts_check(channel, parts) == {}


@pytest.mark.parametrize(("language", "event", "channel"), CASES)
def test_a_default_renders_every_variable_it_uses(language, event, channel):
    values = rendering.sample_context()

    rendered = parts_render(
        DEFAULTS[language][event][channel], values, channel=channel, language=language
    )

    assert all(rendered[name].strip() for name in PARTS[channel])
    assert not any("{{" in text or "{%" in text for text in rendered.values())


@pytest.mark.parametrize("language", ["es", "ru", "tr"])
@pytest.mark.parametrize("event", Event.values)
def test_defaults_are_translated_not_copied(language, event):
    for channel in Channel.values:
        ours, english = DEFAULTS[language][event][channel], DEFAULTS["en"][event][channel]
        for name in ("subject", "body_text", "title", "body"):
            if name in ours:
                assert ours[name] != english[name], (channel, name)


@pytest.mark.parametrize("language", Language.values)
@pytest.mark.parametrize("event", sorted(set(Event.values) - NOTICE_EVENTS))
def test_every_email_says_why_and_how_to_unsubscribe(language, event):
    parts = DEFAULTS[language][event]["email"]

    assert "{{ unsubscribe_url }}" in parts["body_text"]
    assert 'href="{{ unsubscribe_url }}"' in parts["body_html"]
    assert f'<html lang="{language}">' in parts["body_html"]
    assert 'role="presentation"' in parts["body_html"]
    assert "<style" not in parts["body_html"]  # inline styles only


@pytest.mark.parametrize("language", Language.values)
@pytest.mark.parametrize("event", sorted(NOTICE_EVENTS))
def test_a_service_notice_says_why_and_offers_no_unsubscribe(language, event):
    """It goes whatever the member's consent: there is nothing to unsubscribe from."""
    parts = DEFAULTS[language][event]["email"]
    why = LANGUAGES[language].why_notice

    assert "unsubscribe_url" not in parts["body_text"] + parts["body_html"]
    assert parts["body_text"].rstrip().endswith(why)
    assert why in parts["body_html"]
    assert f'<html lang="{language}">' in parts["body_html"]


def test_the_reward_email_carries_the_coupon_code_and_the_push_opens_the_coupons():
    values = {**rendering.sample_context(), "coupon_code": "QWERT-YUPAS-DFGHJ"}

    email = parts_render(DEFAULTS["en"]["reward_issued"]["email"], values, channel="email",
                         language="en")  # fmt: skip
    push = parts_render(DEFAULTS["en"]["reward_issued"]["push"], values, channel="push",
                        language="en")  # fmt: skip

    assert "QWERT-YUPAS-DFGHJ" in email["subject"]
    assert "QWERT-YUPAS-DFGHJ" in email["body_text"]
    assert "QWERT-YUPAS-DFGHJ" in email["body_html"]
    assert push["link"] == "https://example.com/profile/#coupons"


def test_dates_are_written_the_way_each_language_writes_them():
    values = {**rendering.sample_context()}
    values["expiry_date"] = values["expiry_date"].replace(month=3, day=9)

    subjects = {
        language: parts_render(
            DEFAULTS[language]["points_expiring"]["email"], values, channel="email",
            language=language,
        )["subject"]
        for language in Language.values
    }  # fmt: skip

    assert "March 9" in subjects["en"]
    assert "9 de marzo" in subjects["es"]
    assert "9 марта" in subjects["ru"]
    assert "Mart" in subjects["tr"]


def test_an_unknown_language_falls_back_to_english():
    with translation.override("de"):
        parts = default_parts(event="points_granted", channel="email", language="de")

    assert parts == DEFAULTS["en"]["points_granted"]["email"]


def test_a_paragraph_left_out_leaves_no_gap():
    values = {**rendering.sample_context(), "reason": ""}

    text = parts_render(
        DEFAULTS["en"]["points_granted"]["email"], values, channel="email", language="en"
    )["body_text"]

    assert "Reason" not in text
    assert "\n\n\n" not in text
