"""Redis (broker and cache) is down: orders and checkout keep working; the notifications
they cause wait in the outbox and go out once Redis is back, through a real worker."""

import time
import uuid
from decimal import Decimal

import pytest

from notifications.models import Notification
from notifications.tasks import deliver
from rewards.codes import code_normalise
from rewards.models import Coupon
from tests.factories import MemberFactory, ProgramFactory
from tests.faults.conftest import wait_until
from tests.rewards.factories import RewardThresholdFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_orders_and_checkout_work_while_redis_is_down_and_the_outbox_drains_after(
    redis_server, broker_at, start_worker, api_for
):
    broker_at(redis_server.url)  # not started yet: connection refused, a real outage
    program = ProgramFactory()
    RewardThresholdFactory(program=program, points=200, template__value=Decimal("10"))
    MemberFactory(program=program, external_id="ann", email="ann@example.com",
                  consent_email=True)  # fmt: skip
    api = api_for(program)

    started = time.monotonic()
    response = api.post("/api/v1/orders", {"external_id": "A-1", "member": "ann",
                        "amount": "25.00", "currency": "EUR"}, format="json")  # fmt: skip
    took = time.monotonic() - started

    assert response.status_code == 201, response.content
    assert took < 10  # the failed hand-off to the broker is bounded, not a hang
    [coupon] = response.json()["coupons_issued"]
    checkout = {"member": "ann", "order_amount": "80.00", "currency": "EUR"}
    validate = api.post(f"/api/v1/coupons/{coupon['code']}/validate", checkout, format="json")
    assert validate.status_code == 200, validate.content
    guess = api.post("/api/v1/coupons/NOPEN-OPENO-PENOP/validate", checkout, format="json")
    assert guess.status_code == 404  # the guess limit's counters are down: not a 500
    redeem = api.post(f"/api/v1/coupons/{coupon['code']}/redeem",
                      checkout | {"order": "A-2"}, format="json")  # fmt: skip
    assert redeem.status_code == 200, redeem.content
    assert Coupon.objects.get(code=code_normalise(coupon["code"])).status == Coupon.Status.REDEEMED
    waiting = Notification.objects.get(member__external_id="ann", event="reward_issued")
    assert waiting.status == Notification.Status.PENDING  # in the outbox, not lost

    # Redis comes back; a worker runs; the scheduled delivery (each minute) sends the row.
    redis_server.start()
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    start_worker(redis_server.url, queue, pool="solo")
    deliver.apply_async(queue=queue)

    def sent() -> bool:
        waiting.refresh_from_db()
        return waiting.status == Notification.Status.SENT

    wait_until(sent, 60, "the outbox was not delivered after Redis came back", interval=0.3)
