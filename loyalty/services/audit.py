"""Moved to ``loyalty.audit``: the trail every app writes to (rewards and notifications too),
not one of loyalty's services.

Only for the modules that still import it from here (``SHIMS`` and the allowed edges in
tests/test_architecture.py); that test fails once nothing does, and this module goes.
"""

from loyalty.audit import Action, audit_changes, audit_record, audit_replace

__all__ = ["Action", "audit_changes", "audit_record", "audit_replace"]
