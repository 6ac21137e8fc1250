"""What the rewards' admin pages share: the program a user works on, and a refusal in words."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from loyalty.backoffice.params import id_param
from loyalty.backoffice.scope import is_superuser, staff_program
from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.models import Program


def scoped_program(request: HttpRequest, program_id: Any = None) -> Program | None:
    """The program a user works on: a staff user's merchant's, or (superusers) the one asked."""
    if is_superuser(request):
        program_pk = id_param(str(program_id or ""))
        if program_pk is None:
            return None
        return Program.objects.select_related("merchant").filter(pk=program_pk).first()
    return staff_program(request)


def error_details(error: LoyaltyError) -> str:
    """A refusal in one line, each field's problems after its name."""
    if isinstance(error, InvalidInput):
        return " ".join(f"{name}: {' '.join(msgs)}" for name, msgs in error.fields.items())
    return error.detail
