"""A merchant's slug names its profile page /profile/<slug>/, so it never shadows another
page under /profile/."""

import pytest

from loyalty.errors import InvalidInput
from loyalty.profile.urls import urlpatterns
from loyalty.services.merchants import RESERVED_SLUGS, merchant_create

pytestmark = pytest.mark.django_db


def test_every_fixed_profile_path_is_a_reserved_slug():
    fixed = {
        str(p.pattern).split("/")[0] for p in urlpatterns if not str(p.pattern).startswith("<")
    } - {""}
    assert fixed <= RESERVED_SLUGS


@pytest.mark.parametrize("slug", ["transfer", "sign-out", "badge"])
def test_a_reserved_slug_is_refused(slug):
    with pytest.raises(InvalidInput) as error:
        merchant_create(slug=slug, name="Shop")
    assert "slug" in error.value.fields
