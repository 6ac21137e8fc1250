"""Storing browsers' push subscriptions: validated, idempotent by endpoint, and the member's
push consent following their choice; push rows are written only for subscribed members."""

import pytest

from loyalty.errors import InvalidInput
from notifications.models import PushSubscription
from notifications.services import push_public_key, push_subscribe, push_unsubscribe
from notifications.services.push import MAX_SUBSCRIPTIONS
from tests.factories import MemberFactory
from tests.notifications.conftest import reward
from tests.notifications.pushservice import Browser, b64

pytestmark = pytest.mark.django_db

ENDPOINT = "https://push.example.net/send/abc"


def test_push_public_key_is_none_until_vapid_keys_are_set(settings):
    settings.VAPID_PUBLIC_KEY = ""
    settings.VAPID_PRIVATE_KEY = ""

    assert push_public_key() is None


def test_push_public_key_is_the_configured_one(push_keys):
    assert push_public_key() == push_keys


def test_subscribing_stores_the_browser_and_turns_push_consent_on(member, push_keys):
    browser = Browser(ENDPOINT)

    row = push_subscribe(member=member, subscription=browser.subscription(), user_agent="Firefox")

    member.refresh_from_db()
    assert member.consent_push is True
    assert row.member == member
    assert row.info() == {
        "endpoint": ENDPOINT,
        "keys": browser.subscription()["keys"],
    }
    assert row.user_agent == "Firefox"


def test_subscribing_the_same_browser_again_updates_its_one_row(member, push_keys):
    first = Browser(ENDPOINT)
    push_subscribe(member=member, subscription=first.subscription())
    renewed = Browser(ENDPOINT)  # the browser renewed its keys

    row = push_subscribe(member=member, subscription=renewed.subscription())

    assert PushSubscription.objects.count() == 1
    assert row.p256dh == renewed.subscription()["keys"]["p256dh"]


def test_a_browser_belongs_to_the_member_who_subscribed_on_it_last(member, program, push_keys):
    other = MemberFactory(program=program)
    browser = Browser(ENDPOINT)
    push_subscribe(member=member, subscription=browser.subscription())

    push_subscribe(member=other, subscription=browser.subscription())

    assert list(PushSubscription.objects.values_list("member", flat=True)) == [other.pk]


def _bad(**changes):
    subscription = Browser(ENDPOINT).subscription()
    keys = {**subscription["keys"], **changes.pop("keys", {})}
    return {**subscription, "keys": keys, **changes}


@pytest.mark.parametrize(
    ("subscription", "field"),
    [
        (_bad(endpoint=""), "endpoint"),
        (_bad(endpoint=None), "endpoint"),
        (_bad(endpoint="http://push.example.net/send/abc"), "endpoint"),  # not https
        (_bad(endpoint="https://evil.example.com/steal"), "endpoint"),  # not a push service
        (_bad(endpoint="https://10.0.0.1/admin"), "endpoint"),
        (_bad(endpoint="https://push.example.net.evil.com/x"), "endpoint"),
        (_bad(endpoint="https://push.example.net:99999/x"), "endpoint"),
        (_bad(endpoint="https://push.example.net/" + "x" * 1000), "endpoint"),
        (_bad(keys={"p256dh": "not base64 !"}), "keys"),
        (_bad(keys={"p256dh": b64(b"\x04" + b"\x01" * 64)}), "keys"),  # not on the curve
        (_bad(keys={"p256dh": b64(b"\x04" * 33)}), "keys"),
        (_bad(keys={"auth": b64(b"short")}), "keys"),
        (_bad(keys={"auth": 16}), "keys"),
        ({**_bad(), "keys": None}, "keys"),
        ([], "subscription"),
    ],
)
def test_a_bad_subscription_is_refused_and_changes_nothing(member, push_keys, subscription, field):
    with pytest.raises(InvalidInput) as refused:
        push_subscribe(member=member, subscription=subscription)

    assert field in refused.value.fields
    member.refresh_from_db()
    assert member.consent_push is False
    assert not PushSubscription.objects.exists()


def test_a_member_keeps_only_their_latest_browsers(member, push_keys):
    for n in range(MAX_SUBSCRIPTIONS + 2):
        push_subscribe(member=member, subscription=Browser(f"{ENDPOINT}/{n}").subscription())

    kept = list(PushSubscription.objects.order_by("id").values_list("endpoint", flat=True))
    assert kept == [f"{ENDPOINT}/{n}" for n in range(2, MAX_SUBSCRIPTIONS + 2)]


def test_unsubscribing_the_last_browser_turns_push_consent_off(member, push_keys):
    phone, laptop = Browser(f"{ENDPOINT}/phone"), Browser(f"{ENDPOINT}/laptop")
    push_subscribe(member=member, subscription=phone.subscription())
    push_subscribe(member=member, subscription=laptop.subscription())

    push_unsubscribe(member=member, endpoint=phone.endpoint)
    member.refresh_from_db()
    assert member.consent_push is True

    push_unsubscribe(member=member, endpoint=laptop.endpoint)
    push_unsubscribe(member=member, endpoint=laptop.endpoint)  # harmless again
    member.refresh_from_db()
    assert member.consent_push is False
    assert not PushSubscription.objects.exists()


def test_subscribing_turns_consent_on_even_through_a_stale_member(member, push_keys):
    old = Browser(f"{ENDPOINT}/old")
    push_subscribe(member=member, subscription=old.subscription())
    # Meanwhile, another request unsubscribed the last browser (consent off in the database).
    push_unsubscribe(member=member.__class__.objects.get(pk=member.pk), endpoint=old.endpoint)

    push_subscribe(member=member, subscription=Browser(f"{ENDPOINT}/new").subscription())

    member.refresh_from_db()
    assert member.consent_push is True


def test_unsubscribing_cannot_remove_another_members_browser(member, program, push_keys):
    other = MemberFactory(program=program)
    browser = Browser(ENDPOINT)
    push_subscribe(member=other, subscription=browser.subscription())

    push_unsubscribe(member=member, endpoint=browser.endpoint)

    assert PushSubscription.objects.filter(member=other).count() == 1


# Which members get push rows


def test_a_subscribed_member_gets_a_push_row_linking_to_their_coupons(program, push_keys):
    member = MemberFactory(program=program, consent_email=True)
    push_subscribe(member=member, subscription=Browser(ENDPOINT).subscription())

    rows = reward(member)

    assert sorted(row.channel for row in rows) == ["email", "push"]
    push = next(row for row in rows if row.channel == "push")
    assert push.content["link"] == f"http://127.0.0.1:8000/profile/{program.merchant.slug}/#coupons"
    assert push.content["title"] == "Your reward is ready"
    assert "ABCDE-FGHJK-MNPQR" in push.content["body"]


def test_push_rows_are_in_the_members_language(program, push_keys):
    member = MemberFactory(program=program, consent_email=False, locale="tr")
    push_subscribe(member=member, subscription=Browser(ENDPOINT).subscription())

    (row,) = reward(member)

    assert (row.channel, row.language, row.content["title"]) == ("push", "tr", "Ödülünüz hazır")


@pytest.mark.parametrize("configured", [True, False])
def test_no_push_row_without_a_subscription_or_vapid_keys(program, push_keys, settings, configured):
    member = MemberFactory(program=program, consent_email=False, consent_push=True)
    if not configured:
        push_subscribe(member=member, subscription=Browser(ENDPOINT).subscription())
        settings.VAPID_PRIVATE_KEY = ""

    assert reward(member) == []


def _in_threads(*calls) -> list[BaseException]:
    """Run the calls at once in real threads (each with its own connection); their errors."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call):
        try:
            barrier.wait()
            call()
        except BaseException as error:  # noqa: BLE001 (reported to the test)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_the_same_browser_subscribing_at_once_makes_one_row(program, push_keys):
    member = MemberFactory(program=program)
    browser = Browser(ENDPOINT)

    errors = _in_threads(
        *[lambda: push_subscribe(member=member, subscription=browser.subscription())] * 4
    )

    assert errors == []
    assert PushSubscription.objects.filter(endpoint=ENDPOINT).count() == 1


@pytest.mark.django_db(transaction=True)
def test_consent_matches_the_browsers_left_when_subscribe_and_unsubscribe_race(program, push_keys):
    for attempt in range(5):
        member = MemberFactory(program=program)
        old = Browser(f"{ENDPOINT}/old-{attempt}")
        push_subscribe(member=member, subscription=old.subscription())
        new = Browser(f"{ENDPOINT}/new-{attempt}")

        errors = _in_threads(
            lambda member=member, old=old: push_unsubscribe(member=member, endpoint=old.endpoint),
            lambda member=member, new=new: push_subscribe(
                member=member, subscription=new.subscription()
            ),
        )

        assert errors == []
        member.refresh_from_db()
        assert member.consent_push is True
        assert list(member.push_subscriptions.values_list("endpoint", flat=True)) == [new.endpoint]
