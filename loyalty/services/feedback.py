"""Members' feedback on the program: a rating from 1 to 5 and the rewards they would value.

Staff read the answers and the average in the backoffice (``loyalty.selectors.feedback_summary``).
"""

from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput
from loyalty.models import Feedback, Member


def feedback_submit(*, member: Member, rating: int, wanted_rewards: str = "") -> Feedback:
    wanted_rewards = (wanted_rewards or "").strip()
    errors: dict[str, list[str]] = {}
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        errors["rating"] = [str(_("Rate from 1 to 5."))]
    if len(wanted_rewards) > 2000:
        errors["wanted_rewards"] = [str(_("At most 2000 characters."))]
    if errors:
        raise InvalidInput(errors)
    return Feedback.objects.create(
        program_id=member.program_id, member=member, rating=rating, wanted_rewards=wanted_rewards
    )
