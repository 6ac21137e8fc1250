"""An email written as text blocks (heading, paragraphs, button text and link): the bodies
are made from them in the shipped layout with the button in the merchant's brand colour,
each block is checked on its own field, typed "<" and "&" stay text, and "make my own"
starts from the shipped email as blocks. Raw HTML stays the advanced choice."""

import pytest
from django.urls import reverse

from loyalty.models import Merchant
from notifications import rendering
from notifications.defaults import STYLE_CODE, STYLE_P, default_parts
from notifications.email_blocks import blocks_bodies, shipped_blocks
from notifications.models import NotificationTemplate
from notifications.services.templates import TemplatesBatch, templates_render
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:notifications_notificationtemplate_add")
PREVIEW_URL = reverse("admin:notifications_notificationtemplate_preview")


@pytest.fixture
def manager_client(client, program):
    Merchant.objects.filter(pk=program.merchant_id).update(brand_colour="#a21caf")
    client.force_login(StaffFactory(merchant=program.merchant))
    return client


def blocks_data(**changes) -> dict:
    return {
        "event": "points_granted",
        "channel": "email",
        "language": "en",
        "html_mode": "blocks",
        "subject": "{{ points }} points for you",
        "heading": "A thank-you from us",
        "paragraphs": "Hi {{ member_name }}, you got {{ points }} points.\n\nSee you soon & <3",
        "button_text": "See my points",
        "button_link": "{{ profile_url }}",
        "body_text": "",
        "body_html": "",
        **changes,
    }


def test_blocks_make_both_bodies_in_the_brand_colour(manager_client, program):
    response = manager_client.post(ADD_URL, blocks_data())

    assert response.status_code == 302
    template = NotificationTemplate.objects.get()
    assert template.html_mode == "blocks"
    html = template.body_html
    assert "background-color:#a21caf" in html  # the button, in the merchant's colour
    assert ">A thank-you from us</h1>" in html
    assert "you got {{ points }} points." in html
    assert "See you soon &amp; &lt;3" in html  # typed text, not markup
    assert '<a href="{{ profile_url }}"' in html
    assert "unsubscribe_url" in html
    text = template.body_text
    assert "See you soon & <3" in text
    assert "See my points: {{ profile_url }}" in text


def test_a_block_with_an_unknown_variable_is_refused_on_its_field(manager_client):
    response = manager_client.post(ADD_URL, blocks_data(paragraphs="Hi {{ password }}"))

    errors = response.context["adminform"].form.errors
    assert "paragraphs" in errors
    assert not NotificationTemplate.objects.exists()


def test_a_button_link_must_be_an_address(manager_client):
    response = manager_client.post(ADD_URL, blocks_data(button_link="javascript:alert(1)"))

    assert "button_link" in response.context["adminform"].form.errors
    assert not NotificationTemplate.objects.exists()


def test_blocks_need_a_paragraph(manager_client):
    response = manager_client.post(ADD_URL, blocks_data(paragraphs="  "))

    assert "paragraphs" in response.context["adminform"].form.errors


def test_raw_html_is_still_the_advanced_choice(manager_client):
    response = manager_client.post(
        ADD_URL,
        blocks_data(html_mode="raw", body_text="Hi {{ member_name }}",
                    body_html="<p>Mine {{ points }}</p>"),
    )  # fmt: skip

    assert response.status_code == 302
    assert NotificationTemplate.objects.get().body_html == "<p>Mine {{ points }}</p>"


def test_the_live_preview_renders_the_blocks(manager_client):
    data = blocks_data()

    preview = manager_client.post(PREVIEW_URL, data).json()

    assert "background-color:#a21caf" in preview["parts"]["body_html"]
    assert "Hi Alex Morgan, you got" in preview["parts"]["body_text"]
    assert preview["errors"] == {}


def test_make_my_own_starts_from_the_shipped_email_as_blocks(manager_client):
    page = manager_client.get(
        ADD_URL, {"event": "reward_issued", "channel": "email", "language": "es"}
    )

    initial = page.context["adminform"].form.initial
    assert initial["html_mode"] == "blocks"
    assert initial["heading"].startswith("Tu recompensa está lista")
    assert "{{ coupon_code }}" in initial["paragraphs"]
    assert initial["button_link"] == "{{ profile_url }}#coupons"


def test_the_shipped_email_as_blocks_makes_the_shipped_words():
    blocks = shipped_blocks(event="points_expiring", language="en")

    bodies = blocks_bodies(event="points_expiring", language="en", subject="s",
                           colour="not a colour", **blocks)  # fmt: skip

    assert "{% if" not in blocks["heading"]
    assert "#1d4ed8" in bodies["body_html"]  # a bad colour falls back to the shipped one
    assert "See my points" in bodies["body_html"]


def test_paragraphs_typed_in_a_browser_stay_paragraphs():
    bodies = blocks_bodies(event="points_granted", language="en", subject="s", heading="",
                           paragraphs="First line\r\nsame paragraph\r\n\r\nSecond",
                           button_text="", button_link="", colour="#a21caf")  # fmt: skip

    assert ">First line same paragraph</p>" in bodies["body_html"]
    assert ">Second</p>" in bodies["body_html"]
    assert "First line same paragraph\n\nSecond" in bodies["body_text"]


# --- sent as the merchant looks now, the coupon's code in its box ---------------------------


def saved_blocks(client, **changes) -> NotificationTemplate:
    response = client.post(ADD_URL, blocks_data(**changes))
    assert response.status_code == 302, response.content.decode()[-2000:]
    return NotificationTemplate.objects.get(
        event=changes.get("event", "points_granted"), language=changes.get("language", "en")
    )


def sent_html(template: NotificationTemplate, *, batch: bool = False) -> dict[str, str]:
    """The email as sent: one render (an event's notification) or a batch's (reminders)."""
    values = rendering.sample_context()
    if batch:
        renderer = TemplatesBatch(
            merchant_id=template.merchant_id, event=template.event, language=template.language
        )
        return renderer.render(channels=["email"], values=values)["email"]
    return templates_render(
        merchant_id=template.merchant_id,
        event=template.event,
        channels=["email"],
        language=template.language,
        values=values,
    )["email"]


@pytest.mark.parametrize("batch", [False, True])
def test_the_button_takes_the_brand_colour_the_merchant_has_when_sent(
    manager_client, program, batch
):
    template = saved_blocks(manager_client)  # saved while the colour was #a21caf
    Merchant.objects.filter(pk=program.merchant_id).update(brand_colour="#0b7285")

    html = sent_html(template, batch=batch)["body_html"]

    assert "background-color:#0b7285" in html
    assert "#a21caf" not in html
    assert "you got 500 points." in html  # the blocks' words, rendered


def shipped_as_blocks(event: str, language: str) -> dict:
    """The shipped email of an event as the admin's "make my own" starts it (blocks)."""
    blocks = shipped_blocks(event=event, language=language)
    subject = default_parts(event=event, channel="email", language=language)["subject"]
    return blocks_data(event=event, language=language, subject=subject, **blocks)


@pytest.mark.parametrize("language", ["en", "es", "ru", "tr"])
def test_the_coupon_code_is_sent_in_its_copyable_box_in_every_language(manager_client, language):
    template = saved_blocks(manager_client, **shipped_as_blocks("reward_issued", language))

    sent = sent_html(template)

    code_box = f'<p style="{STYLE_CODE}">ABCDE-FGHJK-MNPQR</p>'
    assert code_box in sent["body_html"]
    assert "user-select:all" in STYLE_CODE  # one tap selects the whole code
    assert f'<p style="{STYLE_P}">ABCDE-FGHJK-MNPQR</p>' not in sent["body_html"]
    assert "\n\nABCDE-FGHJK-MNPQR\n\n" in sent["body_text"]  # on its own line in the text


def test_the_code_inside_a_sentence_stays_text(manager_client):
    paragraphs = "Your code is {{ coupon_code }}, enjoy.\n\n{{ coupon_code|lower }}"
    template = saved_blocks(manager_client, event="reward_issued", paragraphs=paragraphs)

    html = sent_html(template)["body_html"]

    assert f'<p style="{STYLE_P}">Your code is ABCDE-FGHJK-MNPQR, enjoy.</p>' in html
    assert f'<p style="{STYLE_CODE}">abcde-fghjk-mnpqr</p>' in html
