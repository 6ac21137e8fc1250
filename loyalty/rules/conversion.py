"""Points into coupons at reward thresholds: which conversions a balance makes.

Automatic programs convert the moment a write brings the balance to a threshold, in that
write's transaction, as many times as the balance allows, largest threshold first.
"""

from typing import Protocol, TypeVar

# A guard against a runaway grant: one write issues at most this many coupons; the rest stays
# as balance and converts on the next write.
MAX_CONVERSIONS_PER_WRITE = 100


class ThresholdLike(Protocol):
    points: int


T = TypeVar("T", bound=ThresholdLike)


def conversions(*, balance: int, thresholds: list[T]) -> list[T]:
    """The thresholds (``thresholds`` largest first) that ``balance`` converts, in order."""
    made: list[T] = []
    while len(made) < MAX_CONVERSIONS_PER_WRITE:
        threshold = next((t for t in thresholds if t.points <= balance), None)
        if threshold is None:
            break
        made.append(threshold)
        balance -= threshold.points
    return made


def next_reward(*, balance: int, thresholds: list[T]) -> dict[str, int] | None:
    """The nearest threshold above the balance and how many points are missing."""
    above = [t for t in thresholds if t.points > balance]
    if not above:
        return None
    nearest = min(above, key=lambda t: t.points)
    return {"threshold": nearest.points, "points_missing": nearest.points - balance}
