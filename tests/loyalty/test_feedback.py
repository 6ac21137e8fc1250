"""Members' feedback: a rating from 1 to 5 and wanted rewards; staff see the average."""

from decimal import Decimal

import pytest

from loyalty.errors import InvalidInput
from loyalty.models import Feedback
from loyalty.selectors import feedback_summary
from loyalty.services.feedback import feedback_submit
from tests.factories import MemberFactory, ProgramFactory


@pytest.mark.django_db
def test_feedback_average_per_program():
    program = ProgramFactory()
    for rating in (5, 4, 4):
        feedback_submit(member=MemberFactory(program=program), rating=rating, wanted_rewards="x")
    feedback_submit(member=MemberFactory(), rating=1)

    summary = feedback_summary(program=program)

    assert (summary.count, summary.average) == (3, Decimal("4.3"))
    assert feedback_summary(program=ProgramFactory()).average is None


@pytest.mark.django_db
@pytest.mark.parametrize("rating", [0, 6, True, "5"])
def test_bad_ratings_are_refused(member, rating):
    with pytest.raises(InvalidInput):
        feedback_submit(member=member, rating=rating)
    assert not Feedback.objects.exists()
