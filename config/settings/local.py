"""Local development: the embedded default (SQLite, tasks in process) unless .env says otherwise."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = env.bool("DEBUG", default=True)
# A webhook receiver on this machine is how one tries webhooks locally.
WEBHOOKS_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOKS_ALLOW_PRIVATE_HOSTS", default=True)
# The same for a push service on this machine (bench.push runs one).
PUSH_ALLOW_PRIVATE_HOSTS = env.bool("PUSH_ALLOW_PRIVATE_HOSTS", default=True)
