#!/usr/bin/env python
"""Django's command line, for local use: the local settings by default, and the embedded
PostgreSQL and Redis started for the command when DATABASE_URL / REDIS_URL are not set
(config/embedded.py). Servers (gunicorn, celery) default to the production settings."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.management import execute_from_command_line

    from config.embedded import services

    with services():
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
