"""The birthday bonus: once a year, on the member's birthday in the merchant's time zone.

Invariant: a member gets at most one birthday bonus a year (key
``birthday:<member pk>:<year>``), whatever how often the job runs; the job may run
every hour (each merchant's day starts at its own midnight). A birthday on 29
February is celebrated on 28 February in years without one.
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from loyalty.models import EarningRule, Member, Program
from loyalty.rules.bonuses import Bonus
from loyalty.rules.earning import local_date
from loyalty.services.bonuses import bonus_award
from loyalty.services.conversion import rewards_convert
from loyalty.services.members import member_lock

BATCH = 500


@dataclass
class BirthdayRun:
    members: int = 0
    points: int = 0


def birthday_filter(today: date) -> Q:
    """Members whose birthday is ``today`` (29 February ones on 28 February of other years)."""
    matches = Q(birth_date__month=today.month, birth_date__day=today.day)
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        matches |= Q(birth_date__month=2, birth_date__day=29)
    return matches


def birthdays_award(*, now: datetime | None = None) -> BirthdayRun:
    """Give today's birthday bonuses in every program with an active birthday rule."""
    now = now or timezone.now()
    run = BirthdayRun()
    rules = (
        EarningRule.objects.filter(kind=EarningRule.Kind.BIRTHDAY, active=True)
        .select_related("program")
        .order_by("program_id", "pk")
    )
    seen: set[int] = set()
    for rule in rules:
        if rule.program_id in seen:
            continue  # the first active birthday rule of a program wins
        seen.add(rule.program_id)
        _award_program(program=rule.program, rule=rule, now=now, run=run)
    return run


def _award_program(*, program: Program, rule: EarningRule, now: datetime, run: BirthdayRun) -> None:
    today = local_date(program, now)
    points = int(rule.parameters["points"])
    last = 0
    while True:
        batch = list(
            Member.objects.filter(birthday_filter(today), program=program, pk__gt=last)
            .filter(birth_date__lte=today)
            .order_by("pk")
            .values_list("pk", "external_id")[:BATCH]
        )
        if not batch:
            return
        for pk, external_id in batch:
            with transaction.atomic():
                member = member_lock(program=program, external_id=external_id)
                entry = bonus_award(
                    member=member,
                    bonus=Bonus(
                        points=points,
                        key=f"birthday:{pk}:{today.year}",
                        reason=(
                            f"Birthday bonus (rule '{rule.name}'): {points} points, happy birthday!"
                        ),
                        details={"rule": rule.pk, "year": today.year},
                    ),
                )
                if entry is not None:
                    run.members += 1
                    run.points += points
                    rewards_convert(member=member, program=program)
        last = batch[-1][0]
