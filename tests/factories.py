"""factory-boy factories for the loyalty domain."""

from decimal import Decimal

import factory

from loyalty.models import Member, Merchant, Program, User
from loyalty.services.api_keys import api_key_create


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    slug = factory.Sequence(lambda n: f"shop-{n}")
    name = factory.Sequence(lambda n: f"Shop {n}")


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.LazyAttribute(lambda p: f"{p.merchant.name} Rewards")
    currency = "EUR"
    earn_rate = Decimal("10")
    points_validity_days = 365


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    program = factory.SubFactory(ProgramFactory)
    external_id = factory.Sequence(lambda n: f"cust-{n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    name = factory.Faker("name")
    locale = "en"
    consent_email = True


class StaffFactory(factory.django.DjangoModelFactory):
    """A staff user of one merchant (the backoffice's ordinary user)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    merchant = factory.SubFactory(MerchantFactory)
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805 - factory-boy's signature
        if create:
            obj.save()


def api_key_for(program: Program, scopes: str = "orders,checkout,manage") -> str:
    """A fresh raw API key for the program's merchant."""
    _, raw = api_key_create(merchant=program.merchant, scopes=scopes.split(","))
    return raw
