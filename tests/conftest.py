import uuid

import pytest
from django.db import connection
from django.utils import translation
from rest_framework.test import APIClient

from loyalty.models import Program
from loyalty.snapshot import settings_forget
from tests.factories import MemberFactory, ProgramFactory, api_key_for

pytest_plugins = ["tests.browser"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database's tables are never analyzed by autovacuum while the suite runs.
    Statistics of a table of three rows make any index as cheap as the right one, so the
    plan tests (``tests.plans``) would see full index walks that only say the table is
    small; they plan for tables of unknown size instead, as on a fresh database."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT format('ALTER TABLE %I SET (autovacuum_enabled = false)', tablename)"
            " FROM pg_tables WHERE schemaname = 'public'"
        )
        for (statement,) in cursor.fetchall():
            cursor.execute(statement)


@pytest.fixture(autouse=True)
def _language_reset():
    """Each test starts in the default language: a view that activates a member's language
    (the profile page) leaves it active in the thread, where the next test would read it."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _program_settings_forgotten():
    """Each test starts without program settings kept by an earlier one (loyalty.snapshot)."""
    settings_forget()
    yield
    settings_forget()


@pytest.fixture
def own_cache(settings):
    """The Redis cache under a key prefix of this test's own: its counters start at zero
    without flushing the database under the tests running beside it (``-n 2``)."""
    assert settings.REDIS_URL, "this test needs real Redis: set REDIS_URL"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def program(db) -> Program:
    return ProgramFactory()


@pytest.fixture
def member(program):
    return MemberFactory(program=program)


@pytest.fixture
def api(program) -> APIClient:
    """An API client authenticated with a key holding every scope for ``program``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(program)}")
    return client


@pytest.fixture
def api_for(db):
    """Make a client for a program with the given scopes: ``api_for(program, "orders")``."""

    def make(program: Program, scopes: str = "orders,checkout,manage") -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(program, scopes)}")
        return client

    return make
