"""The suite's PostgreSQL and Redis: DATABASE_URL / REDIS_URL when set, else the project's
embedded servers (config/embedded.py), started before pytest-django reads the settings and
stopped when the run ends. Loaded with ``-p tests.servers`` (pyproject's addopts), so plain
``pytest`` needs nothing configured; xdist's workers inherit the URLs."""

import contextlib

import pytest

from config import embedded

_servers = contextlib.ExitStack()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    _servers.enter_context(embedded.services())


def pytest_unconfigure(config):
    _servers.close()
