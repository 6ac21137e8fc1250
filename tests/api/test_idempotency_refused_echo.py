"""An answer is kept for its Idempotency-Key whatever it echoes, a NUL character included
(PostgreSQL's jsonb cannot hold one), and replayed as it was first given."""


def test_a_refusal_echoing_a_nul_is_kept_and_replayed(api):
    body = {"conversion_mode": "x\x00"}

    first = api.put("/api/v1/program", body, format="json", HTTP_IDEMPOTENCY_KEY="nul-1")
    again = api.put("/api/v1/program", body, format="json", HTTP_IDEMPOTENCY_KEY="nul-1")

    assert first.status_code == again.status_code == 400
    assert first.json() == again.json()
    assert first.json()["code"] == "validation_error"
