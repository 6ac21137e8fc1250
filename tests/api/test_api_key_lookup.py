"""The key look-up of every API request: one query, the models as the ORM loads them.

``api_key_authenticate`` runs a statement built once per process instead of
``ApiKey.objects.select_related("merchant__program")``; what it loads must be the same.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.models import ApiKey, Merchant, Program
from loyalty.services.api_keys import api_key_authenticate, api_key_create, api_key_revoke
from tests.factories import MerchantFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def fields_of(instance) -> dict:
    """Every column's value, with its type (Decimal, aware datetime, list from JSON...)."""
    return {
        f.attname: (getattr(instance, f.attname), type(getattr(instance, f.attname)))
        for f in type(instance)._meta.concrete_fields
    }


@pytest.fixture
def key(program):
    program.reminder_offsets_days = [30, 7]
    program.earn_rate = Decimal("12.5")
    program.time_zone = "Europe/Madrid"
    program.save()
    key, raw = api_key_create(merchant=program.merchant, scopes=["orders", "checkout"])
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return raw


def test_the_key_comes_with_its_merchant_and_program_in_one_query(key, program):
    with CaptureQueriesContext(connection) as queries:
        found = api_key_authenticate(key)
        merchant, loaded = found.merchant, found.merchant.program
        assert loaded.merchant is merchant

    assert len(queries) == 1
    reference = ApiKey.objects.select_related("merchant__program").get(pk=found.pk)
    assert fields_of(found) == fields_of(reference)
    assert fields_of(merchant) == fields_of(reference.merchant)
    assert fields_of(loaded) == fields_of(reference.merchant.program)
    assert found.scopes == ["checkout", "orders"]
    assert loaded.earn_rate == Decimal("12.5")
    assert loaded.reminder_offsets_days == [30, 7]
    assert found._state.adding is False
    assert loaded._state.db == "default"


def test_a_saved_loaded_program_is_an_update_not_an_insert(key, program):
    loaded = api_key_authenticate(key).merchant.program
    loaded.name = "Renamed"
    loaded.save(update_fields=["name"])

    assert Program.objects.get(pk=program.pk).name == "Renamed"
    assert Program.objects.count() == 1


def test_a_revoked_key_is_refused_on_the_next_look_up(key, program):
    assert api_key_authenticate(key) is not None

    api_key_revoke(keys=ApiKey.objects.filter(merchant=program.merchant))

    assert api_key_authenticate(key) is None


def test_an_unknown_key_is_none():
    ProgramFactory()

    assert api_key_authenticate("lk_never-issued") is None


def test_a_key_of_a_merchant_without_a_program_has_none_like_the_orm():
    merchant = MerchantFactory()
    _, raw = api_key_create(merchant=merchant, scopes=["orders"])

    found = api_key_authenticate(raw)

    assert found is not None
    with pytest.raises(Merchant.program.RelatedObjectDoesNotExist):
        found.merchant.program  # noqa: B018 - the access is what is tested


def test_the_first_use_a_minute_is_recorded(program):
    key, raw = api_key_create(merchant=program.merchant, scopes=["orders"])

    api_key_authenticate(raw)
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    with CaptureQueriesContext(connection) as queries:
        api_key_authenticate(raw)

    assert first is not None
    assert len(queries) == 1
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
