"""Scratch databases for benchmarks, on the PostgreSQL server of DATABASE_URL (else the
embedded one: run benchmarks through ``python -m config.embedded --``, as `make bench` does)."""

import os
import resource
from urllib.parse import urlparse

import psycopg

from config import embedded


def scratch_url(db: str) -> str:
    """The URL of database ``db`` on the server of DATABASE_URL."""
    base = urlparse(os.environ.get("DATABASE_URL") or embedded.postgres_url())
    return base._replace(path=f"/{db}").geturl()


def server_sql(sql: str) -> None:
    """Run ``sql`` on the server's `postgres` database (CREATE / DROP DATABASE)."""
    with psycopg.connect(scratch_url("postgres"), autocommit=True) as conn:
        conn.execute(sql)


def peak_rss() -> int:
    """The process's peak resident memory so far, in bytes (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
