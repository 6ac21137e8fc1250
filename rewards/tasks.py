"""Scheduled jobs of the rewards app: thin, each calls one service and is safe to run twice."""

from celery import shared_task

from rewards.services.coupons import coupons_expire as expire


@shared_task
def coupons_expire() -> int:
    return expire()
