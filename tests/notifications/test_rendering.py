"""The rendering sandbox: only documented plain values, a small set of tags and filters,
HTML escaped and text not; a template that breaks these rules is refused on save."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.safestring import SafeData

from notifications import rendering
from notifications.models import NotificationTemplate
from tests.factories import MerchantFactory


def email_template(**parts) -> NotificationTemplate:
    values = {"subject": "Hello", "body_text": "Hi {{ member_name }}", "body_html": "", **parts}
    return NotificationTemplate(
        merchant=MerchantFactory.build(), event="points_granted", channel="email", language="en",
        **values,
    )  # fmt: skip


def test_a_template_with_only_documented_variables_is_accepted():
    template = email_template(
        subject="{{ points }} point{{ points|pluralize }} for {{ member_name|default:'you' }}",
        body_html="<p>{% if reason %}{{ reason }}{% endif %} {{ expiry_date|date:'Y-m-d' }}</p>",
    )

    template.clean()  # no error


@pytest.mark.parametrize(
    "source",
    [
        "{{ member }}",
        "{{ member.email }}",
        "{{ settings.SECRET_KEY }}",
        "{% if secret %}x{% endif %}",
        "{{ points|add:bonus }}",
        "{% with a=points %}{{ a }}{% endwith %}{{ a }}",
    ],
)
def test_an_unknown_variable_is_rejected_on_save(source):
    template = email_template(body_text=source)

    with pytest.raises(ValidationError) as raised:
        template.clean()

    assert "body_text" in raised.value.message_dict
    assert "Unknown variable" in raised.value.message_dict["body_text"][0]


@pytest.mark.parametrize(
    "source",
    ["{% if points %}never closed", "{{ points|nosuchfilter }}", "{% endif %}", "{{ }}"],
)
def test_broken_syntax_is_rejected_on_save(source):
    template = email_template(subject=source)

    with pytest.raises(ValidationError) as raised:
        template.clean()

    assert "subject" in raised.value.message_dict


@pytest.mark.parametrize(
    "source",
    [
        "{% debug %}",
        "{% load humanize %}",
        '{% include "admin/base.html" %}',
        '{% extends "admin/base.html" %}',
        '{% url "admin:index" %}',
        "{% csrf_token %}",
        "{% autoescape off %}{{ reason }}{% endautoescape %}",
        "{{ reason|safe }}",
        "{{ member_name.__class__ }}",
    ],
)
def test_tags_and_filters_outside_the_sandbox_are_rejected(source):
    assert rendering.template_problems(source, html=True)


def test_with_may_name_a_documented_value_inside_its_block():
    assert rendering.template_problems("{% with n=points %}{{ n }}{% endwith %}") == []


def test_the_required_parts_of_the_channel_must_be_there():
    template = NotificationTemplate(
        merchant=MerchantFactory.build(), event="tier_changed", channel="push", language="en",
        title="", body="{{ tier_name }}",
    )  # fmt: skip

    with pytest.raises(ValidationError) as raised:
        template.clean()

    assert set(raised.value.message_dict) == {"title"}


def test_a_push_link_must_render_to_a_web_address():
    assert rendering.template_problems("{{ coupon_code }}", url=True)
    assert rendering.template_problems("{{ profile_url }}#coupons", url=True) == []


def test_model_instances_never_reach_a_template(db, member):
    with pytest.raises(TypeError):
        rendering.render("{{ member_name }}", {"member_name": member})
    with pytest.raises(ValueError, match="not a documented"):
        rendering.render("{{ member_name }}", {"member": member})


def test_attribute_lookups_reach_only_the_plain_value():
    # member_name is a str: there is no program, merchant or anything else behind it.
    rendered = rendering.render(
        "[{{ member_name.program.merchant }}]", {"member_name": "Alex"}, html=False
    )

    assert rendered == "[]"


def test_html_parts_are_escaped_and_text_parts_are_not():
    values = {"member_name": '<script>alert("x")</script> & Co'}

    html = rendering.render("<p>{{ member_name }}</p>", values, html=True)
    text = rendering.render("{{ member_name }}", values, html=False)

    assert html == "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co</p>"
    assert text == '<script>alert("x")</script> & Co'


def test_missing_variables_render_empty_and_dates_follow_the_values():
    moment = timezone.make_aware(datetime.datetime(2030, 5, 17, 12, 0))

    rendered = rendering.render(
        "{{ coupon_code }}|{{ expiry_date|date:'Y-m-d' }}|{{ balance }}",
        {"expiry_date": moment, "balance": Decimal("12")},
    )

    assert rendered == "|2030-05-17|12"


def test_rendered_text_is_plain_data_not_marked_safe():
    html = rendering.render("<p>{{ member_name }}</p>", {"member_name": "A"}, html=True)
    text = rendering.render("<p>{{ member_name }}</p>", {"member_name": "A"}, html=False)

    # Shown inside an admin page, both must be escaped again, never trusted as markup.
    assert not isinstance(html, SafeData)
    assert not isinstance(text, SafeData)
