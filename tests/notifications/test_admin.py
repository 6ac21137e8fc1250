"""The notifications backoffice: templates checked on save with a live preview, scoped per
merchant; the outbox read-only with its errors visible and a "resend" for failed rows."""

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from loyalty.models import User
from notifications.defaults import DEFAULTS
from notifications.models import Notification, NotificationTemplate
from notifications.services import notifications_deliver
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.notifications.conftest import reward

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:notifications_notificationtemplate_add")
TEMPLATES_URL = reverse("admin:notifications_notificationtemplate_changelist")
OUTBOX_URL = reverse("admin:notifications_notification_changelist")
PREVIEW_URL = reverse("admin:notifications_notificationtemplate_preview")


def template_data(**changes) -> dict:
    return {
        "event": "points_granted",
        "channel": "email",
        "language": "en",
        "subject": "{{ points }} points for you",
        "body_text": "Hi {{ member_name }}, {{ reason }}",
        "body_html": "<p>Hi {{ member_name }}</p>",
        "title": "",
        "body": "",
        "link": "",
        **changes,
    }


def change_url(obj) -> str:
    return reverse(f"admin:notifications_{obj._meta.model_name}_change", args=[obj.pk])


@pytest.fixture
def staff(program) -> User:
    return StaffFactory(merchant=program.merchant)


@pytest.fixture
def other_program():
    return ProgramFactory()


# Templates


def test_staff_adds_a_template_for_their_own_merchant(client, staff, program):
    client.force_login(staff)

    response = client.post(ADD_URL, template_data())

    assert response.status_code == 302, response.context["adminform"].form.errors
    template = NotificationTemplate.objects.get()
    assert template.merchant == program.merchant
    assert template.subject == "{{ points }} points for you"


def test_saving_a_template_with_an_unknown_variable_is_refused_on_the_field(client, staff):
    client.force_login(staff)

    response = client.post(ADD_URL, template_data(body_html="<p>{{ member.email }}</p>"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["body_html"]
    assert "Unknown variable" in errors["body_html"][0]
    assert not NotificationTemplate.objects.exists()


def test_saving_a_template_that_does_not_compile_is_refused(client, staff):
    client.force_login(staff)

    response = client.post(ADD_URL, template_data(subject="{% if points %}open"))

    assert response.status_code == 200
    assert "subject" in response.context["adminform"].form.errors
    assert not NotificationTemplate.objects.exists()


def test_changing_a_template_to_a_broken_one_keeps_the_old_one(client, staff, program):
    template = NotificationTemplate.objects.create(merchant=program.merchant, **template_data())
    client.force_login(staff)

    response = client.post(change_url(template), template_data(subject="{{ secret }}"))

    assert response.status_code == 200
    template.refresh_from_db()
    assert template.subject == "{{ points }} points for you"


def test_a_second_template_for_the_same_event_channel_and_language_is_refused(
    client, staff, program
):
    NotificationTemplate.objects.create(merchant=program.merchant, **template_data())
    client.force_login(staff)

    response = client.post(ADD_URL, template_data())

    assert response.status_code == 200
    assert "language" in response.context["adminform"].form.errors
    assert NotificationTemplate.objects.count() == 1


def test_the_same_template_in_another_merchant_is_fine(client, staff, other_program):
    NotificationTemplate.objects.create(merchant=other_program.merchant, **template_data())
    client.force_login(staff)

    response = client.post(ADD_URL, template_data())

    assert response.status_code == 302


def test_the_other_channels_parts_are_not_kept(client, staff):
    client.force_login(staff)

    client.post(ADD_URL, template_data(title="stray", body="stray"))

    template = NotificationTemplate.objects.get()
    assert (template.title, template.body) == ("", "")


def test_staff_see_and_open_only_their_merchants_templates(client, staff, program, other_program):
    mine = NotificationTemplate.objects.create(
        merchant=program.merchant, **template_data(subject="Mine {{ points }}")
    )
    theirs = NotificationTemplate.objects.create(
        merchant=other_program.merchant, **template_data(subject="Theirs {{ points }}")
    )
    client.force_login(staff)

    listing = client.get(TEMPLATES_URL)
    opened = client.get(change_url(theirs))
    changed = client.post(change_url(theirs), template_data(subject="Stolen"))

    assert listing.status_code == 200
    assert [t.pk for t in listing.context["cl"].result_list] == [mine.pk]
    assert opened.status_code in (302, 403, 404)
    assert changed.status_code in (302, 403, 404)
    theirs.refresh_from_db()
    assert theirs.subject == "Theirs {{ points }}"


def test_the_change_page_previews_the_template_for_a_sample_member(client, staff, program):
    template = NotificationTemplate.objects.create(
        merchant=program.merchant,
        **template_data(
            body_html="<p>Hi {{ member_name }}!</p>", body_text="<b>{{ member_name }}</b>"
        ),
    )
    client.force_login(staff)

    response = client.get(change_url(template))

    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview["errors"] == {}
    assert preview["parts"]["subject"] == "500 points for you"
    assert preview["parts"]["body_html"] == "<p>Hi Alex Morgan!</p>"
    assert 'srcdoc="&lt;p&gt;Hi Alex Morgan!&lt;/p&gt;"' in response.text
    assert "sandbox" in response.text
    assert '<pre data-part="body_text">&lt;b&gt;Alex Morgan&lt;/b&gt;</pre>' in response.text


def test_the_live_preview_renders_what_is_typed(client, staff, program):
    client.force_login(staff)

    response = client.post(
        PREVIEW_URL,
        template_data(language="es", subject="{{ merchant_name }}: {{ expiry_date }}"),
    )

    assert response.status_code == 200
    result = response.json()
    assert result["channel"] == "email"
    assert result["errors"] == {}
    assert result["parts"]["subject"].startswith(f"{program.merchant.name}: ")
    assert " de " in result["parts"]["subject"]  # a Spanish date


def test_the_live_preview_reports_problems_per_part(client, staff):
    client.force_login(staff)

    response = client.post(PREVIEW_URL, template_data(body_text="{{ nope }}"))

    result = response.json()
    assert list(result["errors"]) == ["body_text"]
    assert result["parts"]["body_text"] == ""


def test_the_live_preview_can_load_the_shipped_text(client, staff):
    client.force_login(staff)

    response = client.post(
        PREVIEW_URL,
        {"event": "tier_changed", "channel": "push", "language": "tr", "load_default": "1"},
    )

    assert response.json()["sources"] == DEFAULTS["tr"]["tier_changed"]["push"]


def test_the_preview_is_for_staff_only(client, member):
    assert client.post(PREVIEW_URL, template_data()).status_code == 302  # to the login page


def test_a_new_template_can_start_from_the_shipped_one(client, staff):
    client.force_login(staff)

    response = client.get(ADD_URL, {"event": "reward_issued", "channel": "email", "language": "ru"})

    form = response.context["adminform"].form
    assert form.initial["subject"] == DEFAULTS["ru"]["reward_issued"]["email"]["subject"]


def test_the_variables_are_documented_on_the_page(client, staff):
    client.force_login(staff)

    response = client.get(ADD_URL)

    for name in ("member_name", "coupon_code", "unsubscribe_url", "expiry_date"):
        assert f"{{{{ {name} }}}}" in response.text


# The outbox


def failed_row(member) -> Notification:
    (row,) = reward(member)
    Notification.objects.filter(pk=row.pk).update(
        status="failed", attempts=6, last_error="SMTPServerDisconnected: gone away"
    )
    return row


@pytest.fixture
def quiet(monkeypatch):
    """No delivery right after commit: rows stay as the test leaves them."""
    monkeypatch.setattr("notifications.services.outbox._hand_off", lambda ids: None)


def test_the_outbox_list_shows_errors_and_filters(client, staff, program, quiet):
    failed = failed_row(MemberFactory(program=program))
    reward(MemberFactory(program=program))
    client.force_login(staff)

    everything = client.get(OUTBOX_URL)
    only_failed = client.get(OUTBOX_URL, {"status__exact": "failed"})

    assert everything.status_code == 200
    assert len(everything.context["cl"].result_list) == 2
    assert [n.pk for n in only_failed.context["cl"].result_list] == [failed.pk]
    assert "SMTPServerDisconnected: gone away" in only_failed.text
    for name in ("status", "event", "channel"):
        assert f"{name}__exact" in everything.text


def test_staff_see_only_their_merchants_notifications(client, staff, program, other_program, quiet):
    mine = reward(MemberFactory(program=program))[0]
    theirs = reward(MemberFactory(program=other_program))[0]
    client.force_login(staff)

    listing = client.get(OUTBOX_URL)
    opened = client.get(change_url(theirs))

    assert [n.pk for n in listing.context["cl"].result_list] == [mine.pk]
    assert opened.status_code in (302, 403, 404)


def test_a_notification_page_is_read_only_and_shows_the_message(client, staff, member, quiet):
    (row,) = reward(member)
    client.force_login(staff)

    response = client.get(change_url(row))

    assert response.status_code == 200
    assert 'name="_save"' not in response.text
    assert "<iframe sandbox" in response.text
    assert "ABCDE-FGHJK-MNPQR" in response.text


def test_resend_sends_failed_rows_again_and_leaves_sent_ones(
    client, staff, program, django_capture_on_commit_callbacks
):
    failed = failed_row(MemberFactory(program=program))
    (sent,) = reward(MemberFactory(program=program))
    notifications_deliver(ids=[sent.pk])
    sent.refresh_from_db()
    assert sent.status == "sent"
    mail.outbox.clear()
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            OUTBOX_URL,
            {"action": "resend", "_selected_action": [failed.pk, sent.pk]},
        )

    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 notification queued to be sent again." in messages
    assert len(mail.outbox) == 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("sent", 1)
    sent_before = sent.sent_at
    sent.refresh_from_db()
    assert sent.sent_at == sent_before


def test_staff_cannot_resend_another_merchants_notification(client, staff, other_program, quiet):
    theirs = failed_row(MemberFactory(program=other_program))
    client.force_login(staff)

    client.post(OUTBOX_URL, {"action": "resend", "_selected_action": [theirs.pk]})

    theirs.refresh_from_db()
    assert theirs.status == "failed"


def test_a_superuser_chooses_the_merchant(client, program):
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)

    response = client.post(ADD_URL, template_data(merchant=program.merchant.pk))

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert NotificationTemplate.objects.get().merchant == program.merchant
