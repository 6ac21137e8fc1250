"""Management commands of the loyalty app: thin shells around the services."""

from django.core.management.base import CommandError

from loyalty.errors import InvalidInput, LoyaltyError


def command_error(exc: LoyaltyError) -> CommandError:
    """A service's refusal as a CommandError with the message a person can act on."""
    message = exc.detail
    if isinstance(exc, InvalidInput):
        message = "; ".join(
            f"{field}: {' '.join(str(problem) for problem in problems)}"
            for field, problems in exc.fields.items()
        )
    return CommandError(message)
