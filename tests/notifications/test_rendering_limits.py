"""A merchant's template cannot be made to cost much: padding and number formats take small
widths, no filter makes a long text, a part renders to a bounded size, and blocks nest
shallowly. The same limits hold on save, in the preview and when notifications are written
(where a template past them gives way to the shipped one)."""

import datetime
import tracemalloc

import pytest
from django.core.exceptions import ValidationError

from notifications import rendering, sandbox
from notifications.models import Notification, NotificationTemplate
from notifications.services import templates
from notifications.services.templates import TemplatesBatch, templates_render
from tests.factories import MemberFactory, MerchantFactory
from tests.notifications.conftest import reward

MB = 1024 * 1024


def nested_withs(levels: int) -> str:
    """Each level doubles the text before: ``reason`` times 2 ** ``levels``."""
    opens = "".join(f"{{% with a{n + 1}=a{n}|add:a{n} %}}" for n in range(levels)).replace(
        "a0", "reason"
    )
    return opens + f"{{{{ a{levels} }}}}" + "{% endwith %}" * levels


AMPLIFIERS = {
    "stringformat width": ('{{ points|stringformat:"020000000d" }}', "“stringformat” takes"),
    "stringformat precision": ('{{ points|stringformat:".9999999f" }}', "“stringformat” takes"),
    "ljust": ('{{ member_name|ljust:"20000000" }}', "“ljust” takes a width"),
    "rjust": ("{{ member_name|rjust:20000000 }}", "“rjust” takes a width"),
    "center": ("{{ member_name|center:20000000 }}", "“center” takes a width"),
    "center by a variable": ("{{ member_name|center:expiring_points }}", "“center” takes"),
    "floatformat": ("{{ points|floatformat:999999 }}", "“floatformat” takes at most 20"),
    "widthratio": ("{% widthratio points 1 20000000 %}", "“widthratio” takes a width"),
    "doubling with": (nested_withs(16), "“add” makes a text longer than"),
    "a long date format": ("{{ expiry_date|date:'" + "r" * 5000 + "' }}", "“date” makes"),
    "printed again and again": (
        "{% with a=reason|add:reason|add:reason %}" + "{{a}}" * 3000 + "{% endwith %}",
        "The template makes more than 100000 characters",
    ),
    "deep blocks": ("{% if points %}" * 30 + "x" + "{% endif %}" * 30, "nested more than"),
    "a condition of thousands of nots": (
        "{% if " + "not " * 4900 + "points %}x{% endif %}",
        "nested more than",
    ),
    "a long source": ("x" * 20_001, "at most 20000 characters long"),
}


def email_template(**parts) -> NotificationTemplate:
    values = {"subject": "Hello", "body_text": "Hi", "body_html": "", **parts}
    return NotificationTemplate(
        merchant=MerchantFactory.build(), event="points_granted", channel="email", language="en",
        **values,
    )  # fmt: skip


def peak_while(function) -> int:
    """Peak memory (bytes) allocated while ``function`` runs; its exception is swallowed."""
    tracemalloc.start()
    try:
        function()
    except Exception:  # noqa: S110 - the limit's exception is expected here
        pass
    _size, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize(("source", "problem"), AMPLIFIERS.values(), ids=AMPLIFIERS)
def test_amplifying_templates_are_refused_on_save(source, problem):
    template = email_template(body_text=source)

    with pytest.raises(ValidationError) as raised:
        template.clean()

    assert problem in raised.value.message_dict["body_text"][0]


@pytest.mark.parametrize(("source", "problem"), AMPLIFIERS.values(), ids=AMPLIFIERS)
def test_rendering_an_amplifying_template_stops_early_and_small(source, problem):
    values = {**rendering.sample_context(), "expiring_points": 500}

    with pytest.raises(sandbox.TemplateLimitExceeded) as raised:
        rendering.render(source, values)
    peak = peak_while(lambda: rendering.render(source, values))

    assert problem in str(raised.value)
    assert peak < 4 * MB, peak


@pytest.mark.parametrize(
    ("source", "rendered"),
    [
        ("[{{ member_name|ljust:14 }}]", "[Alex Morgan   ]"),
        ("[{{ member_name|center:100 }}]", "[" + "Alex Morgan".center(100) + "]"),
        ('{{ points|stringformat:"06d" }}', "000500"),
        ("{{ points|floatformat:2 }}", "500.00"),
        ("{% widthratio balance 1000 100 %}%", "12%"),
        ("{% with a=member_name|add:'!' %}{{ a }}{% endwith %}", "Alex Morgan!"),
        ("{% if points %}" * 20 + "deep" + "{% endif %}" * 20, "deep"),
    ],
)
def test_the_same_filters_and_tags_still_work_within_the_limits(source, rendered):
    assert rendering.template_problems(source) == []
    assert rendering.render(source, rendering.sample_context()) == rendered


@pytest.mark.parametrize(
    "source",
    [
        "{% for c in reason %}{{ c }}{% endfor %}",
        "{{ reason|make_list }}",
        "{{ reason|join:',' }}",
        "{% load i18n %}",
        "{% include 'admin/base.html' %}",
    ],
)
def test_there_is_no_loop_list_or_loading_in_the_sandbox(source):
    assert "not available" in rendering.template_problems(source)[0]


@pytest.mark.django_db
def test_a_saved_template_past_the_limits_gives_way_to_the_shipped_one_when_sent(program):
    # Saved before the limits existed (or around the form): the ORM does not call clean().
    NotificationTemplate.objects.create(
        merchant=program.merchant, event="reward_issued", channel="email", language="en",
        subject='{{ points|stringformat:"020000000d" }}', body_text="Custom",
    )  # fmt: skip
    member = MemberFactory(program=program)
    reward(MemberFactory(program=program))  # warm: imports and shipped templates compiled

    peak = peak_while(lambda: reward(member, occasion="coupon-1"))
    row = Notification.objects.get(member=member)

    assert row.content["subject"].startswith("Your reward is ready")
    assert peak < 8 * MB, peak


@pytest.mark.django_db
def test_a_template_fine_with_the_sample_but_not_with_real_values_gives_way_when_sent(program):
    # The sample has 500 points; a real member's points decide the width only at send time.
    source = "{% if points > 1000 %}{{ member_name|ljust:points }}{% endif %}"
    template = NotificationTemplate.objects.create(
        merchant=program.merchant, event="reward_issued", channel="email", language="en",
        subject="Custom {{ points }}", body_text=source,
    )  # fmt: skip
    template.full_clean()  # accepted on save
    member = MemberFactory(program=program)

    (small,) = reward(member, occasion="coupon-1", points=600)
    (big,) = reward(member, occasion="coupon-2", points=20_000_000)

    assert small.content["subject"] == "Custom 600"
    assert big.content["subject"].startswith("Your reward is ready")


@pytest.mark.django_db
def test_a_batch_with_slots_keeps_the_output_limit(program):
    """Printed variables are filled in per member (``fill_slots``): they count too."""
    NotificationTemplate.objects.create(
        merchant=program.merchant, event="points_expiring", channel="email", language="en",
        subject="Soon", body_text="{{ member_name }}" * 600,
    )  # fmt: skip
    values = rendering.plain_context(
        {
            "member_name": "A" * 200,
            "expiring_points": 10,
            "expiry_date": datetime.date(2030, 1, 1),
            "unsubscribe_url": "https://example.com/u/",
            "profile_url": "https://example.com/p/",
        }
    )
    short = rendering.plain_context({**values, "member_name": "Ana"})
    batch = TemplatesBatch(merchant_id=program.merchant_id, event="points_expiring", language="en")

    assert batch.render(channels=["email"], values=short)["email"]["subject"] == "Soon"
    one = templates_render(
        merchant_id=program.merchant_id, event="points_expiring", channels=["email"],
        language="en", values=values,
    )  # fmt: skip
    many = TemplatesBatch(merchant_id=program.merchant_id, event="points_expiring", language="en")

    assert one["email"]["subject"] != "Soon"
    assert many.render(channels=["email"], values=values)["email"]["subject"] != "Soon"


def test_compiled_templates_are_kept_up_to_a_size_not_a_count():
    for n in range(150):
        sandbox.compile_template(f"{n} " + "{{ points }}" * 1_600)

    assert sandbox._compiled.size <= sandbox.CACHE_SOURCE_CHARS
    assert len(sandbox._compiled.entries) < 150


@pytest.mark.django_db
def test_a_batch_keeps_its_pre_rendered_parts_up_to_a_size(program, monkeypatch):
    """Each distinct ``expiring_points`` shapes the text: the kept parts are bounded in size,
    not only in number."""
    monkeypatch.setattr(templates, "MAX_PIECES_CHARS", 50_000, raising=False)
    NotificationTemplate.objects.create(
        merchant=program.merchant, event="points_expiring", channel="email", language="en",
        subject="Soon", body_text="{% with p=expiring_points|stringformat:'099d' %}"
        + "{{p}}" * 100 + "{% endwith %}",
    )  # fmt: skip
    batch = TemplatesBatch(merchant_id=program.merchant_id, event="points_expiring", language="en")

    for points in range(1, 40):
        values = rendering.plain_context({"expiring_points": points, "member_name": "Ana"})
        text = batch.render(channels=["email"], values=values)["email"]["body_text"]
        assert text == f"{points:099d}" * 100
        kept = sum(len(piece) for pieces in batch._pieces.values() for piece in pieces)
        assert kept <= 50_000
