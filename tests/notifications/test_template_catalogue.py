"""The notification texts page lists every text members are sent, per event, channel and
language, shipped or the merchant's own, even with no text of its own; a shipped text opens
rendered for a sample member and can be made the merchant's own. Template writes are checked
and audited by the service."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from loyalty.models import AuditEntry, User
from loyalty.roles import MerchantForbidden, RoleForbidden
from notifications.models import NotificationTemplate
from notifications.selectors import sent_texts
from notifications.services.templates import template_delete, template_save
from tests.factories import ProgramFactory, StaffFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:notifications_notificationtemplate_changelist")


def shipped_url(event: str, channel: str, language: str) -> str:
    return reverse(
        "admin:notifications_notificationtemplate_shipped", args=[event, channel, language]
    )


def login(program, role: str = User.Role.MANAGER) -> tuple[User, Client]:
    user = StaffFactory(merchant=program.merchant, role=role)
    client = Client()
    client.force_login(user)
    return user, client


def cell(html: str, event: str, channel: str, language: str) -> str:
    row = re.search(
        rf'<tr data-event="{event}" data-channel="{channel}">.*?</tr>', html, re.S
    ).group(0)
    return re.search(rf'<td data-language="{language}">.*?</td>', row, re.S).group(0)


def test_a_merchant_without_texts_of_its_own_sees_every_shipped_text(program):
    _user, client = login(program)

    html = client.get(LIST_URL).content.decode()

    rows = re.findall(r'<tr data-event="(\w+)" data-channel="(\w+)">', html)
    assert rows == sent_texts()
    assert ("email_changed", "push") not in rows  # a notice goes by email only
    assert ("reward_issued", "push") in rows
    assert html.count(">shipped<") == len(rows) * 4  # en, es, ru, tr
    shipped = cell(html, "reward_issued", "email", "ru")
    assert shipped_url("reward_issued", "email", "ru") in shipped
    assert "event=reward_issued&amp;channel=email&amp;language=ru" in shipped


def test_the_merchants_own_text_is_marked_and_opens_its_page(program):
    _user, client = login(program)
    own = NotificationTemplate.objects.create(
        merchant=program.merchant,
        event="points_granted",
        channel="push",
        language="es",
        title="¡Puntos!",
        body="{{ points }}",
    )
    other = NotificationTemplate.objects.create(
        merchant=ProgramFactory().merchant,
        event="points_granted",
        channel="push",
        language="en",
        title="Theirs",
        body="x",
    )

    html = client.get(LIST_URL).content.decode()

    mine = cell(html, "points_granted", "push", "es")
    assert "your text" in mine
    assert reverse("admin:notifications_notificationtemplate_change", args=[own.pk]) in mine
    assert "shipped" in cell(html, "points_granted", "push", "en")  # not the other merchant's
    assert str(other.pk) not in cell(html, "points_granted", "push", "en")


def test_a_shipped_text_opens_rendered_for_a_sample_member(program):
    _user, client = login(program)

    page = client.get(shipped_url("reward_issued", "email", "es"))
    html = page.content.decode()

    assert page.status_code == 200
    assert "Tu recompensa está lista:" in html  # the Spanish shipped subject, rendered
    assert "{{" not in re.search(r'<pre id="shipped-subject">(.*?)</pre>', html, re.S).group(1)
    assert "<iframe sandbox" in html
    assert 'id="make-own"' in html
    assert "event=reward_issued&amp;channel=email&amp;language=es" in html


def test_make_it_my_own_starts_from_the_shipped_text(program):
    _user, client = login(program)

    page = client.get(
        reverse("admin:notifications_notificationtemplate_add"),
        {"event": "points_granted", "channel": "push", "language": "tr"},
    )

    form = page.context["adminform"].form
    assert form.initial["title"]
    assert form.initial["language"] == "tr"


@pytest.mark.parametrize(
    "args",
    [("reward_issued", "fax", "en"), ("nothing", "email", "en"), ("reward_issued", "email", "xx"),
     ("email_changed", "push", "en")],
)  # fmt: skip
def test_an_unknown_text_is_not_found(program, args):
    _user, client = login(program)

    assert client.get(shipped_url(*args)).status_code == 404


def test_a_viewer_sees_the_texts_but_is_not_offered_to_change_them(program):
    _user, client = login(program, User.Role.VIEWER)

    html = client.get(LIST_URL).content.decode()
    shipped = client.get(shipped_url("reward_issued", "email", "en")).content.decode()

    assert ">shipped<" in html
    assert "make my own" not in html
    assert 'id="make-own"' not in shipped


def test_the_load_button_is_at_the_top_of_the_form(program):
    _user, client = login(program)

    html = client.get(reverse("admin:notifications_notificationtemplate_add")).content.decode()

    assert html.index('id="load-default"') < html.index('name="subject"')


# The services


def test_saving_and_deleting_through_the_service_is_audited(program):
    manager = StaffFactory(merchant=program.merchant)
    template = NotificationTemplate(
        merchant=program.merchant,
        event="points_granted",
        channel="push",
        language="en",
        title="Points",
        body="{{ points }}",
    )

    template_save(template=template, actor=manager)
    template.title = "More points"
    template_save(template=template, actor=manager)
    template_delete(template=template, actor=manager)

    actions = list(AuditEntry.objects.order_by("pk").values_list("action", "changes"))
    assert [action for action, _changes in actions] == [
        "template.create",
        "template.update",
        "template.delete",
    ]
    assert actions[1][1] == {"title": ["Points", "More points"]}
    assert not NotificationTemplate.objects.exists()


@pytest.mark.parametrize("role", [User.Role.VIEWER, User.Role.SUPPORT])
def test_the_service_refuses_weaker_roles(program, role):
    user = StaffFactory(merchant=program.merchant, role=role)
    template = NotificationTemplate(
        merchant=program.merchant, event="points_granted", channel="push", language="en",
        title="x", body="y",
    )  # fmt: skip

    with pytest.raises(RoleForbidden):
        template_save(template=template, actor=user)

    assert not NotificationTemplate.objects.exists()


def test_the_service_refuses_another_merchants_manager(program):
    template = NotificationTemplate.objects.create(
        merchant=program.merchant, event="points_granted", channel="push", language="en",
        title="x", body="y",
    )  # fmt: skip
    stranger = StaffFactory(merchant=ProgramFactory().merchant)

    with pytest.raises(MerchantForbidden):
        template_delete(template=template, actor=stranger)
    template.title = "taken"
    with pytest.raises(MerchantForbidden):
        template_save(template=template, actor=stranger)

    assert NotificationTemplate.objects.get().title == "x"
