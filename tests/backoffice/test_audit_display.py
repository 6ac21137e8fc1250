"""The audit trail as a person reads it: the action in words (every code has them, in each
language), the target as a link to its page, the changes as a before/after table with long
bodies folded, and no internal columns."""

import re
from html import escape

import pytest
from django.urls import reverse
from django.utils import translation

from loyalty.audit import ACTION_WORDS, Action, action_codes, action_words, audit_record
from loyalty.models import AuditEntry, Member, Program, User
from tests.factories import MemberFactory, StaffFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:loyalty_auditentry_changelist")


@pytest.fixture
def alice(shop: Program) -> Member:
    return MemberFactory(program=shop, external_id="alice")


def grant(shop: Program, alice: Member, **changes):
    return audit_record(
        merchant=shop.merchant,
        actor=StaffFactory(merchant=shop.merchant),
        action=Action.POINTS_GRANT,
        target=alice,
        changes=changes or {"points": 40, "balance": [0, 40]},
        reason="Late parcel",
    )


# Words for codes


def test_every_action_code_has_words():
    missing = [code for code in action_codes() if code not in ACTION_WORDS]

    assert missing == []
    assert len(action_codes()) == len(ACTION_WORDS)  # and no words for a code that is gone


@pytest.mark.parametrize("language", ["es", "ru", "tr"])
def test_the_words_are_translated(language):
    with translation.override("en"):
        english = {code: action_words(code) for code in action_codes()}
    with translation.override(language):
        untranslated = [code for code in action_codes() if action_words(code) == english[code]]

    assert untranslated == []


def test_an_unknown_code_shows_as_it_is():
    assert action_words("retired.action") == "retired.action"


# The list


def test_the_list_shows_words_a_linked_target_and_no_internal_columns(shop, alice, staff_client):
    grant(shop, alice)
    _user, client = staff_client(shop)

    html = client.get(CHANGELIST).content.decode()

    assert "Points granted" in html
    assert ">points.grant<" not in html
    assert "Target repr" not in html
    assert "target type" not in html.lower()
    member_url = reverse("admin:loyalty_member_change", args=[alice.pk])
    assert f'<a href="{member_url}">{escape(str(alice))}</a>' in html


def test_changes_are_a_before_after_table(shop, alice, staff_client):
    grant(shop, alice)
    _user, client = staff_client(shop)

    html = client.get(CHANGELIST).content.decode()

    table = re.search(r'<table class="audit-changes">.*?</table>', html, re.S).group(0)
    facts = re.search(r'<dl class="audit-facts">.*?</dl>', html, re.S).group(0)
    assert "<th>before</th><th>after</th>" in table
    assert '<th scope="row">balance</th><td>0</td><td>40</td>' in table
    assert "points" not in table  # a single value is a fact, not a "before"
    assert "<dt>points</dt><dd>40</dd>" in facts
    assert "{" not in table + facts  # no raw JSON


def test_a_long_body_is_folded_and_escaped(shop, alice, staff_client):
    body = "<table><tr><td>Hello {{ member_name }}</td></tr></table>" + "x" * 3000
    grant(shop, alice, body_html=["", body])
    _user, client = staff_client(shop)

    html = client.get(CHANGELIST).content.decode()

    assert "<details><summary>" in html
    assert "<table><tr><td>Hello" not in html  # shown as text, not markup
    assert "&lt;table&gt;&lt;tr&gt;&lt;td&gt;Hello" in html
    assert "3,056 characters" in html or "3056 characters" in html


def test_a_target_without_an_admin_page_is_plain_text(shop, staff_client):
    audit_record(
        merchant=shop.merchant,
        actor=None,
        action=Action.PROGRAM_UPDATE,
        target="<b>old settings</b>",
        changes={"earn_rate": ["10", "12"]},
    )
    _user, client = staff_client(shop)

    html = client.get(CHANGELIST).content.decode()

    assert "&lt;b&gt;old settings&lt;/b&gt;" in html
    assert "<b>old settings</b>" not in html
    assert "Program settings changed" in html


def test_the_entry_page_shows_the_same_reading(shop, alice, staff_client):
    entry = grant(shop, alice)
    _user, client = staff_client(shop, User.Role.VIEWER)

    html = client.get(reverse("admin:loyalty_auditentry_change", args=[entry.pk])).content.decode()

    assert "Points granted" in html
    assert '<table class="audit-changes">' in html
    assert reverse("admin:loyalty_member_change", args=[alice.pk]) in html
    assert "Target repr" not in html


def test_the_trail_is_found_and_filtered_by_words(shop, alice, staff_client):
    mine = grant(shop, alice)
    audit_record(
        merchant=shop.merchant, actor=None, action=Action.COUPON_VOID, target=alice, changes={}
    )
    _user, client = staff_client(shop)

    found = client.get(CHANGELIST, {"q": "points granted"})
    filtered = client.get(CHANGELIST, {"action": Action.POINTS_GRANT})
    page = filtered.content.decode()

    assert list(found.context["cl"].result_list) == [mine]
    assert list(filtered.context["cl"].result_list) == [mine]
    assert "Coupon voided" in page  # the filter offers the words


def test_the_words_follow_the_staff_members_language(shop, alice, staff_client):
    grant(shop, alice)
    _user, client = staff_client(shop)

    html = client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="es").content.decode()

    with translation.override("es"):
        assert action_words(Action.POINTS_GRANT) in html


def test_another_merchants_entries_are_not_shown(shop, other_shop, alice, staff_client):
    grant(shop, alice)
    _user, client = staff_client(other_shop)

    assert client.get(CHANGELIST).context["cl"].result_count == 0


def test_the_lists_count_names_entries_in_the_plural(shop, alice, staff_client):
    grant(shop, alice)
    grant(shop, alice)
    _user, client = staff_client(shop)

    html = client.get(CHANGELIST).content.decode()
    footer = re.search(r'<p class="paginator">(.*?)</p>', html, re.S).group(1)

    assert " ".join(footer.split()).startswith("2 audit entries")
    assert "audit trail" not in footer


@pytest.mark.parametrize("language", ["es", "ru", "tr"])
def test_the_lists_count_is_in_the_staff_members_language(shop, alice, staff_client, language):
    grant(shop, alice)
    grant(shop, alice)
    _user, client = staff_client(shop)

    html = client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    footer = " ".join(re.search(r'<p class="paginator">(.*?)</p>', html, re.S).group(1).split())

    with translation.override(language):
        plural = str(AuditEntry._meta.verbose_name_plural)
    assert plural != "audit entries"
    assert footer.startswith(f"2 {plural}")
