"""Giving points from the profile page.

Given a program that allows transfers, when a signed-in member sends the form, then the
points move from them (always the session's member, whatever the form says) to the member
named in "to", both histories show it, a double submit moves them once, and every refusal
is shown on the form in the member's language while nothing changes. A refusal never
tells whether the member number exists, and tries are limited per member and per client
address, so numbers cannot be looked up one after another.
"""

import re
import socket
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from loyalty.models import LedgerEntry, Member, Transfer
from loyalty.services.points import points_grant
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db

KEY_INPUT = re.compile(r'<input type="hidden" name="key" value="([^"]+)"')


def member_with(program, external_id, points, **fields):
    member = MemberFactory(program=program, external_id=external_id, **fields)
    if points:
        points_grant(program=program, member_external_id=external_id, points=points, reason="Hi")
    return member


@pytest.fixture
def program():
    return ProgramFactory(transfers_enabled=True, transfer_min_points=10)


@pytest.fixture
def ann(program):
    return member_with(program, "ann", 1000)


@pytest.fixture
def ben(program):
    return member_with(program, "ben", 200)


def balances(*members):
    return [Member.objects.get(pk=m.pk).balance for m in members]


def post(client, ip="127.0.0.1", **data):
    data.setdefault("key", uuid.uuid4().hex)
    data.setdefault("note", "")
    return client.post("/profile/transfer/", data, REMOTE_ADDR=ip)


ERRORS = re.compile(r'<ul class="errorlist.*?</ul>', re.DOTALL)


def test_a_member_gives_points_and_both_histories_show_it(signed_in, ann, ben):
    client = signed_in(ann)

    response = post(client, to="ben", points=300, note="Happy birthday")

    assert response.status_code == 302
    assert response["Location"] == "/profile/#transfer"
    assert balances(ann, ben) == [700, 500]
    page = client.get(response["Location"]).content.decode()
    assert "You gave 300 points to ben. Your balance is now 700." in page
    assert '<span class="balance" data-testid="balance">700</span>' in page
    assert "Given to member ben: Happy birthday" in page
    out = LedgerEntry.objects.get(member=ann, kind="transfer_out")
    received = LedgerEntry.objects.get(member=ben, kind="transfer_in")
    assert (out.points, received.points) == (-300, 300)
    ben_page = signed_in(ben, on=Client()).get("/profile/").content.decode()
    assert "Received from member ann: Happy birthday" in ben_page


def test_the_form_carries_a_fresh_key_on_every_page_load(signed_in, ann, ben):
    client = signed_in(ann)

    first = KEY_INPUT.findall(client.get("/profile/").content.decode())
    second = KEY_INPUT.findall(client.get("/profile/").content.decode())

    assert len(first) == len(second) == 1
    assert first != second


def test_the_section_states_the_minimum_and_the_monthly_limit(signed_in, program, ann):
    program.transfer_monthly_limit = 5000
    program.save()

    page = signed_in(ann).get("/profile/").content.decode()

    assert 'id="transfer-title">Give points<' in page
    assert "at least 10 points at a time" in page
    assert "You can give up to 5,000 points a month." in page
    assert '<label for="id_to">To:</label>' in page
    assert "Your member number is <strong>ann</strong>: give it to whoever wants" in page


def test_the_section_is_hidden_and_the_view_refuses_when_transfers_are_disabled(
    signed_in, program, ann, ben
):
    program.transfers_enabled = False
    program.save()
    client = signed_in(ann)

    page = client.get("/profile/").content.decode()
    response = post(client, to="ben", points=100)

    assert "Give points" not in page
    assert 'name="key"' not in page
    assert response.status_code == 302
    assert balances(ann, ben) == [1000, 200]
    assert not Transfer.objects.exists()
    assert "This program does not allow members to transfer points." in (
        client.get("/profile/").content.decode()
    )


def test_a_double_submit_with_the_same_key_transfers_once(signed_in, ann, ben):
    client = signed_in(ann)
    key = uuid.uuid4().hex

    first = post(client, to="ben", points=100, key=key)
    second = post(client, to="ben", points=100, key=key)

    assert first.status_code == second.status_code == 302
    assert Transfer.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="transfer_out").count() == 1
    assert balances(ann, ben) == [900, 300]


def test_a_used_key_with_other_data_is_refused_with_a_reload_hint(signed_in, ann, ben):
    client = signed_in(ann)
    key = uuid.uuid4().hex
    post(client, to="ben", points=100, key=key)

    response = post(client, to="ben", points=150, key=key)

    assert response.status_code == 400
    assert "This form was already sent. Reload the page to give again." in (
        response.content.decode()
    )
    assert balances(ann, ben) == [900, 300]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"to": "ben", "points": 5000}, "The member has 1000 points; 5000 cannot be taken"),
        ({"to": "ben", "points": 5}, "A transfer moves at least 10 points."),
        ({"to": "nobody", "points": 100}, "No such member in this program."),
        ({"to": "ann", "points": 100}, "A member cannot transfer points to themself."),
        ({"to": "ben", "points": 0}, "Ensure this value is greater than or equal to 1."),
        ({"to": "", "points": 100}, "This field is required."),
    ],
    ids=["insufficient", "below-minimum", "unknown-recipient", "to-self", "zero", "no-recipient"],
)
def test_refusals_are_shown_on_the_form_and_change_nothing(signed_in, ann, ben, data, message):
    client = signed_in(ann)

    response = post(client, **data)

    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert 'class="errorlist' in page
    assert f'value="{data["to"]}"' in page or not data["to"]  # what was typed is kept
    assert balances(ann, ben) == [1000, 200]
    assert not Transfer.objects.exists()


def test_the_monthly_limit_is_refused_with_what_is_left(signed_in, program, ann, ben):
    program.transfer_monthly_limit = 500
    program.save()
    client = signed_in(ann)
    post(client, to="ben", points=400)

    response = post(client, to="ben", points=200)

    assert response.status_code == 400
    assert (
        "A member may give at most 500 points a month; 400 were given this month, "
        "so at most 100 more." in response.content.decode()
    )
    assert balances(ann, ben) == [600, 600]


def test_a_member_of_another_program_is_unknown(signed_in, ann):
    stranger = member_with(ProgramFactory(transfers_enabled=True), "zed", 0)

    response = post(signed_in(ann), to="zed", points=100)

    assert response.status_code == 400
    assert "No such member in this program." in response.content.decode()
    assert balances(ann, stranger) == [1000, 0]


def test_the_sender_is_always_the_signed_in_member(signed_in, program, ann, ben):
    """A form naming another member as sender still gives from the session's member."""
    carl = member_with(program, "carl", 1000)

    response = post(
        signed_in(ann),
        to="ben",
        points=100,
        sender="carl",
        sender_external_id="carl",
        member="carl",
        **{"from": "carl"},
    )

    assert response.status_code == 302
    assert balances(ann, ben, carl) == [900, 300, 1000]
    transfer = Transfer.objects.get()
    assert (transfer.sender_id, transfer.recipient_id) == (ann.pk, ben.pk)


def test_refusals_follow_the_members_language(signed_in, program, ben):
    ana = member_with(program, "ana", 50, locale="es")

    response = post(signed_in(ana), to="ben", points=100)

    page = response.content.decode()
    assert response.status_code == 400
    assert "El miembro tiene 50 puntos" in page
    assert "Dar puntos" in page


def test_signed_out_visitors_cannot_transfer(client, ann, ben):
    response = post(client, to="ben", points=100)

    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    assert balances(ann, ben) == [1000, 200]


def test_the_transfer_view_takes_only_csrf_protected_posts(signed_in, ann, ben):
    assert signed_in(ann).get("/profile/transfer/").status_code == 405
    strict = signed_in(ann, on=Client(enforce_csrf_checks=True))

    response = post(strict, to="ben", points=100)

    assert response.status_code == 403
    assert balances(ann, ben) == [1000, 200]


def page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/profile/")
    assert response.status_code == 200
    return len(queries)


def test_the_section_adds_no_query_to_the_page(signed_in, program, ann, ben):
    client = signed_in(ann)
    with_section = page_queries(client)
    program.transfers_enabled = False
    program.save()

    without = page_queries(client)

    assert with_section == without


def test_a_refused_transfer_renders_the_page_in_constant_queries(signed_in, program, ann, ben):
    """The refused form is shown on the page: a rich history costs no more queries."""
    for n in range(30):
        points_grant(program=program, member_external_id="ann", points=1, reason=f"g{n}")
    rich, poor = signed_in(ann), signed_in(member_with(program, "pat", 10), on=Client())

    counts = []
    for client in (rich, poor):
        with CaptureQueriesContext(connection) as queries:
            response = post(client, to="ben", points=5)
        assert response.status_code == 400
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_both_histories_name_the_other_member_in_their_language(signed_in, program, ben):
    ana = member_with(program, "ana", 1000, locale="es")
    post(signed_in(ana), to="ben", points=100, note="Feliz cumpleaños")
    ben.locale = "ru"
    ben.save()

    ana_page = signed_in(ana).get("/profile/").content.decode()
    ben_page = signed_in(ben, on=Client()).get("/profile/").content.decode()

    assert "Dado al miembro ben: Feliz cumpleaños" in ana_page
    assert "Tu número de miembro es <strong>ana</strong>" in ana_page
    assert "Получено от участника ana: Feliz cumpleaños" in ben_page


def test_transfers_in_the_history_cost_one_query_whatever_their_number(
    signed_in, program, ben, settings
):
    """Outside English the page reads the transfers it shows in one query: 1 or 20 alike."""
    settings.PROFILE_TRANSFER_LIMIT_PER_MEMBER = 30
    one = member_with(program, "one", 1000, locale="es")
    many = member_with(program, "many", 1000, locale="es")
    post(signed_in(one, on=Client()), to="ben", points=10)
    many_client = signed_in(many, on=Client())
    for _ in range(25):
        post(many_client, to="ben", points=10)
    many_client.get("/profile/")  # shows (and so removes) the success messages

    counts = [page_queries(signed_in(m, on=Client())) for m in (one, many)]

    assert counts[0] == counts[1]


@pytest.mark.parametrize("case", ["insufficient", "monthly-limit", "used-key"])
def test_an_unknown_member_number_gets_the_answer_a_known_one_gets(
    signed_in, program, ann, ben, case
):
    """Refused for the sender's own reasons, "nobody" and "ben" read alike: the form tells
    nothing about which member numbers exist."""
    client = signed_in(ann)
    data = {"points": 5000}
    if case == "monthly-limit":
        program.transfer_monthly_limit = 500
        program.save()
        post(client, to="ben", points=400)
        data = {"points": 200}
    if case == "used-key":
        key = uuid.uuid4().hex
        post(client, to="ben", points=100, key=key)
        data = {"points": 150, "key": key}

    known = post(client, to="ben", **data)
    unknown = post(client, to="nobody", **data)

    assert known.status_code == unknown.status_code == 400
    errors = ERRORS.findall(known.content.decode())
    assert errors
    assert ERRORS.findall(unknown.content.decode()) == errors
    assert "No such member" not in unknown.content.decode()


def test_transfers_tried_are_limited_per_member(signed_in, settings, ann, ben):
    settings.PROFILE_TRANSFER_LIMIT_PER_MEMBER = 3
    client = signed_in(ann)

    answers = [post(client, to=to, points=100) for to in ("nobody", "ben", "zed", "ben")]

    assert [a.status_code for a in answers] == [400, 302, 400, 429]
    limited = answers[-1]
    assert re.search(
        r"Too many transfers were tried\. Please wait \d+ minutes before trying again\.",
        limited.content.decode(),
    )
    assert 0 < int(limited["Retry-After"]) <= settings.PROFILE_TRANSFER_WINDOW_SECONDS
    assert 'value="ben"' in limited.content.decode()  # the form is kept as typed
    assert balances(ann, ben) == [900, 300]  # only the one that went through
    assert post(signed_in(ben, on=Client()), to="ann", points=10).status_code == 302


def test_transfers_tried_are_limited_per_client_address_within_the_merchant(
    signed_in, settings, program, ann, ben
):
    settings.PROFILE_TRANSFER_LIMIT_PER_IP = 2
    carl = member_with(program, "carl", 1000)
    stranger = member_with(ProgramFactory(transfers_enabled=True), "sam", 1000)
    member_with(stranger.program, "tom", 0)
    same = "203.0.113.9"

    first = post(signed_in(ann), ip=same, to="nobody", points=100).status_code
    second = post(signed_in(ben, on=Client()), ip=same, to="nobody", points=100).status_code
    third = post(signed_in(carl, on=Client()), ip=same, to="ben", points=100).status_code
    elsewhere = post(signed_in(carl, on=Client()), ip="203.0.113.10", to="ben", points=100)
    other_shop = post(signed_in(stranger, on=Client()), ip=same, to="tom", points=100)

    assert (first, second, third) == (400, 400, 429)
    assert elsewhere.status_code == 302
    assert other_shop.status_code == 302
    assert balances(ann, ben, carl) == [1000, 300, 900]


@pytest.mark.parametrize(
    ("locale", "message"),
    [
        ("es", "Se han intentado demasiadas transferencias."),
        ("ru", "Слишком много попыток перевода."),
        ("tr", "Çok fazla transfer denendi."),
    ],
)
def test_the_transfer_limit_is_told_in_the_members_language(
    signed_in, settings, program, ben, locale, message
):
    settings.PROFILE_TRANSFER_LIMIT_PER_MEMBER = 0
    member = member_with(program, f"m-{locale}", 100, locale=locale)

    response = post(signed_in(member), to="ben", points=10)

    assert response.status_code == 429
    assert message in response.content.decode()


def test_a_transfer_goes_through_when_the_limits_cache_is_unreachable(
    signed_in, settings, ann, ben, caplog
):
    client = signed_in(ann)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

    response = post(client, to="ben", points=100)

    assert response.status_code == 302
    assert balances(ann, ben) == [900, 300]
    assert "profile-transfer" in caplog.text
    assert "the cache is unreachable" in caplog.text
