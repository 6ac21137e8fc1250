"""Local development: the embedded default (SQLite, tasks in process) unless .env says otherwise."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = env.bool("DEBUG", default=True)
