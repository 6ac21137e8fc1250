"""Query plans for tests: which statements would read a whole table.

A hot path's statements must each find their rows through an index, or they slow down with
every member a shop gains (a test database is too small to feel it). With sequential scans
disabled, PostgreSQL still plans one where no index can serve the condition: that is what
``full_scans`` reports, with a full index walk (an index scan with no index condition).
"""

import json

from django.db import connection

_WRITES = ("SELECT", "WITH", "UPDATE", "DELETE", "INSERT")


def full_scans(statements: list[str]) -> list[str]:
    """``"table: statement"`` for each statement whose plan reads a table of ours in full."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        for sql in statements:
            if not sql.lstrip().upper().startswith(_WRITES):
                continue
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            found += [f"{table}: {sql[:300]}" for table in _scanned_whole(plan[0]["Plan"])]
        cursor.execute("RESET enable_seqscan")
    return found


def _scanned_whole(node: dict) -> list[str]:
    tables = []
    table = node.get("Relation Name", "")
    whole = node["Node Type"] == "Seq Scan" or (
        node["Node Type"] in ("Index Scan", "Index Only Scan") and "Index Cond" not in node
    )
    if whole and not table.startswith(("pg_", "django_")):
        tables.append(table)
    for child in node.get("Plans", []):
        tables += _scanned_whole(child)
    return tables
