"""Members' feedback on the program: a rating from 1 to 5 and the rewards they would value.

Staff read the answers and the average in the backoffice (``feedback_summary``).
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Avg, Count
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput
from loyalty.models import Feedback, Member, Program


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


@dataclass(frozen=True)
class FeedbackSummary:
    count: int
    average: Decimal | None


def feedback_summary(*, program: Program | None = None) -> FeedbackSummary:
    """How many answers and their average rating (one decimal); all programs when None."""
    rows = Feedback.objects.all() if program is None else Feedback.objects.filter(program=program)
    found = rows.aggregate(count=Count("pk"), average=Avg("rating"))
    average = found["average"]
    return FeedbackSummary(
        count=found["count"],
        average=None if average is None else Decimal(str(average)).quantize(Decimal("0.1")),
    )
