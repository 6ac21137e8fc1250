"""The program's active earning rules, as orders and bonuses read them.

One read for both: ``earn_breakdown`` takes the order kinds, ``bonus_rule`` the first rule
of a bonus kind. Kept across requests per settings version (``loyalty.snapshot``).
"""

from loyalty.models import EarningRule, Program
from loyalty.snapshot import settings_read


def program_rules(program: Program) -> list[EarningRule]:
    """The program's active rules, by kind and then by pk."""
    return settings_read(
        "earning_rules",
        program,
        lambda: list(
            EarningRule.objects.filter(program=program, active=True).order_by("kind", "pk")
        ),
    )
