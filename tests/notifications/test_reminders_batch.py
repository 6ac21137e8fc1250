"""Expiry reminders written in batches: the same rows and texts as one by one, far fewer
queries and renders."""

import datetime
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.models import Member, PointLot
from loyalty.services.ledger import ledger_append
from notifications import rendering
from notifications.models import Notification, NotificationTemplate
from notifications.services.reminders import reminders_send
from notifications.services.templates import TemplatesBatch, templates_render
from tests.factories import MemberFactory, ProgramFactory

NOW = timezone.now()


def due_member(program, n, *, days_left=10, balance=100, **fields):
    """A member whose points expire in ``days_left`` days (the 14-day reminder is due)."""
    member = MemberFactory(program=program, external_id=f"m-{n}", **fields)
    member.program = program
    ledger_append(member=member, kind="grant", points=balance, reason="test", key=f"t-{n}")
    Member.objects.filter(pk=member.pk).update(points_expire_at=NOW + timedelta(days=days_left))
    return member


def values(**overrides):
    return rendering.plain_context(
        {
            "member_name": "Ana <b>&amp;",
            "balance": 1,
            "merchant_name": "Shop & Co",
            "profile_url": "https://example.com/p/",
            "unsubscribe_url": "https://example.com/u/x?a=1&b=2",
            "expiring_points": 1234,
            "expiry_date": datetime.date(2030, 3, 3),
            **overrides,
        }
    )


CUSTOM = {
    "subject": "{{ member_name|upper }}: {{ expiring_points }} on {{ expiry_date }}"
    "{% if unsubscribe_url and expiring_points %}!{% endif %}",
    "body_text": "Hi {{ member_name }}\n\n\n{% if balance > 5 %}rich{% endif %}\n\n\n"
    "{{ balance }} point{{ balance|pluralize }}",
    "body_html": "<p>{{ member_name }} {{ unsubscribe_url }} {{ expiring_points }}</p>",
}


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "es", "ru", "tr"])
@pytest.mark.parametrize("custom", [False, True])
def test_batch_rendering_gives_the_same_text_as_rendering_one_by_one(language, custom):
    program = ProgramFactory()
    if custom:
        NotificationTemplate.objects.create(
            merchant=program.merchant,
            event="points_expiring",
            channel="email",
            language=language,
            **CUSTOM,
        )
    batch = TemplatesBatch(
        merchant_id=program.merchant_id, event="points_expiring", language=language
    )

    for case in [
        values(),
        values(balance=7, member_name="Zoë", expiring_points=1),
        values(balance=1, member_name="", unsubscribe_url="https://example.com/u/<y>"),
        values(balance=1, member_name="Bob", expiring_points=0),
        values(),  # from the batch's cache now
    ]:
        expected = templates_render(
            merchant_id=program.merchant_id,
            event="points_expiring",
            channels=["email", "push"],
            language=language,
            values=case,
        )
        assert batch.render(channels=["email", "push"], values=case) == expected


def test_a_printed_variable_is_a_slot_and_a_filtered_one_shapes_the_text():
    plan = rendering.slot_plan(CUSTOM["subject"] + CUSTOM["body_text"])

    assert {"expiring_points", "expiry_date"} <= plan.slots
    assert {"member_name", "balance"} <= plan.exact
    assert not plan.slots & plan.exact


def test_a_variable_tested_only_for_truth_shapes_the_text_by_its_truth():
    plan = rendering.slot_plan(
        "{% if unsubscribe_url and not tier_name %}<a href='{{ unsubscribe_url }}'>{% endif %}"
        "{% if points > 3 %}many{% endif %}"
    )

    assert plan.slots == {"unsubscribe_url"}
    assert plan.truths == {"unsubscribe_url", "tier_name"}
    assert plan.exact == {"points"}
    assert plan.shape({"unsubscribe_url": "https://a", "points": 4}) == plan.shape(
        {"unsubscribe_url": "https://b", "points": 4}
    )


@pytest.mark.django_db
def test_reminders_for_many_members_take_a_constant_number_of_queries():
    program = ProgramFactory(points_validity_days=365)
    for n in range(5):
        due_member(program, n, balance=100 + n)
    with CaptureQueriesContext(connection) as few:
        assert reminders_send(now=NOW) == 5
    for n in range(5, 45):
        due_member(program, n, balance=100 + n)
    Notification.objects.all().delete()

    with CaptureQueriesContext(connection) as many:
        assert reminders_send(now=NOW) == 45

    assert len(many) == len(few)


@pytest.mark.django_db
def test_reminders_across_chunks_reach_every_member_once():
    program = ProgramFactory(points_validity_days=365)
    members = [due_member(program, n, days_left=10 + n % 3) for n in range(7)]

    first = reminders_send(now=NOW, chunk_size=2)
    again = reminders_send(now=NOW, chunk_size=3)

    assert (first, again) == (7, 0)
    assert sorted(Notification.objects.values_list("member_id", flat=True)) == sorted(
        m.pk for m in members
    )
    row = Notification.objects.get(member=members[0])
    date = timezone.localdate(NOW + timedelta(days=10))
    assert row.dedupe_key == f"points_expiring:{date}:14:email"
    assert row.context["member_name"] == members[0].name
    assert members[0].name in row.content["body_text"]


@pytest.mark.django_db
def test_per_earning_reminders_tell_the_points_of_the_next_date_only():
    program = ProgramFactory(points_validity_days=365, reset_validity_on_order=False)
    member = due_member(program, 1, balance=100)
    member.program = program
    ledger_append(member=member, kind="grant", points=40, reason="later", key="t-later")
    soon = NOW + timedelta(days=10)
    PointLot.objects.filter(member=member, points=100).update(expires_at=soon)
    PointLot.objects.filter(member=member, points=40).update(expires_at=NOW + timedelta(days=200))
    Member.objects.filter(pk=member.pk).update(points_expire_at=soon)

    assert reminders_send(now=NOW) == 1

    row = Notification.objects.get()
    assert row.context["expiring_points"] == 100
    assert row.context["balance"] == 140


@pytest.mark.django_db
def test_members_without_consent_or_points_get_no_reminder():
    program = ProgramFactory(points_validity_days=365)
    due_member(program, 1, consent_email=False)
    due_member(program, 2, email="")
    due_member(program, 3, days_left=40)  # the 60-day reminder is due

    assert reminders_send(now=NOW) == 1
    assert Notification.objects.get().dedupe_key.split(":")[2] == "60"


@pytest.mark.django_db(transaction=True)
def test_two_reminder_runs_at_once_write_each_reminder_once():
    program = ProgramFactory(points_validity_days=365)
    for n in range(40):
        due_member(program, n)
    barrier = threading.Barrier(2, timeout=30)

    def run():
        try:
            barrier.wait()
            return reminders_send(now=NOW, chunk_size=5)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = [f.result(timeout=60) for f in [pool.submit(run), pool.submit(run)]]

    assert sum(counts) == 40
    assert Notification.objects.count() == 40
    assert Notification.objects.values("member").distinct().count() == 40


@pytest.mark.django_db
def test_unsubscribe_links_made_in_bulk_are_the_ones_made_one_by_one():
    from notifications.services.unsubscribe import unsubscribe_url, unsubscribe_urls

    members = [MemberFactory(), MemberFactory()]
    make = unsubscribe_urls()

    assert [make(m.pk) for m in members] == [unsubscribe_url(member=m) for m in members]
