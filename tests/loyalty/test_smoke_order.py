from decimal import Decimal

from loyalty.services.orders import order_record


def test_order_earns_floor_of_amount_times_rate(program):
    result = order_record(
        program=program,
        external_id="A-1",
        member_external_id="c1",
        amount=Decimal("12.39"),
        currency="EUR",
    )
    assert result.created
    assert result.order.points_earned == 123
    assert result.balance == 123
