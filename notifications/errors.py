"""The notifications app's refusals, in the program's one error vocabulary (``loyalty.errors``)."""

from django.utils.translation import gettext_lazy as _

from loyalty.errors import LoyaltyError


class PreviewRateLimited(LoyaltyError):
    code = "rate_limited"
    status = 429
    message = _("Too many previews in a short time. The preview resumes in %(seconds)s seconds.")

    def __init__(self, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(seconds=retry_after)
