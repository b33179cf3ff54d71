"""The client's one 429 retry (tenacity) and the backfill's backoff, without a network: a scripted session."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from orders import backfill
from sync.bigcommerce import BigCommerceClient, BigCommerceError, BigCommerceNotFound

pytestmark = pytest.mark.django_db


class ScriptedSession(requests.Session):
    """Answers from a list, one per request: (status, headers)."""

    def __init__(self, answers: list[tuple[int, dict[str, str]]]) -> None:
        super().__init__()
        self.answers = answers
        self.sent = 0

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        status, headers = self.answers[self.sent]
        self.sent += 1
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = b"[]" if status == 200 else b'{"status": 429, "title": "Too many requests"}'
        return response


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    return waits


def test_a_short_429_is_slept_out_once_then_tried_again(sandbox_store, slept):
    session = ScriptedSession([(429, {"X-Rate-Limit-Time-Reset-Ms": "1500"}), (200, {})])
    assert BigCommerceClient(store=sandbox_store, session=session).request("GET", "/v2/orders") == []
    assert session.sent == 2 and slept == [1.5]


def test_a_second_429_goes_back_to_the_caller(sandbox_store, slept):
    session = ScriptedSession([(429, {"X-Rate-Limit-Time-Reset-Ms": "1000"})] * 3)
    with pytest.raises(BigCommerceError) as caught:
        BigCommerceClient(store=sandbox_store, session=session).request("GET", "/v2/orders")
    assert caught.value.status == 429 and caught.value.retry_after_seconds == 1.0
    assert session.sent == 2 and slept == [1.0]


def test_backfill_retries_transient_errors_with_backoff_and_the_asked_wait(slept):
    errors = [BigCommerceError("busy", status=503), BigCommerceError("limit", status=429, retry_after_seconds=30.0)]

    def call() -> str:
        if errors:
            raise errors.pop(0)
        return "done"

    assert backfill._retrying(call, what="a page") == "done"
    assert slept == [1.0, 30.0]  # doubling from one second; the server's longer wait wins


def test_backfill_gives_up_after_its_attempts_and_not_on_permanent_errors(slept):
    calls = []

    def failing() -> None:
        calls.append(1)
        raise BigCommerceError("down", status=502)

    with pytest.raises(BigCommerceError, match="down"):
        backfill._retrying(failing, what="a page")
    assert len(calls) == backfill.PAGE_ATTEMPTS
    assert slept[:3] == [1.0, 2.0, 4.0] and max(slept) == backfill.BACKOFF_MAX_SECONDS

    slept.clear()
    with pytest.raises(BigCommerceNotFound):
        backfill._retrying(lambda: (_ for _ in ()).throw(BigCommerceNotFound("gone", status=404)), what="x")
    assert slept == []
