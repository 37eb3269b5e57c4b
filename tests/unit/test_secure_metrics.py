"""Secure /metrics: the bearer token, decisions cached per token, and the HTTPS endpoint
answering 401/403/200 as the review says (the real reviews: tests/e2e/test_secure_metrics)."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from email.message import Message

import pytest

from kubedirector.metrics.secure import (
    CachedReviews,
    Decision,
    bearer_token,
    secure_metrics_endpoint,
    serving_context,
)


def headers(**values: str) -> Message:
    message = Message()
    for key, value in values.items():
        message[key] = value
    return message


@pytest.mark.parametrize(
    ("authorization", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer ", None),
        ("", None),
    ],
)
def test_bearer_token(authorization, token):
    assert bearer_token(headers(Authorization=authorization)) == token
    assert bearer_token(headers()) is None


class Reviewer:
    def __init__(self, answers: dict[str, Decision]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, token: str) -> Decision:
        self.calls.append(token)
        return self.answers[token]


def test_no_token_is_401_without_asking():
    reviewer = Reviewer({})
    assert CachedReviews(reviewer).decide(None).code == 401
    assert reviewer.calls == []


def test_decisions_are_cached_until_they_expire():
    now = [0.0]
    reviewer = Reviewer({"a": Decision(200, "allowed"), "b": Decision(403, "no")})
    reviews = CachedReviews(reviewer, ttl=10, clock=lambda: now[0])
    assert [reviews.decide(t).code for t in ("a", "b", "a", "b")] == [200, 403, 200, 403]
    assert reviewer.calls == ["a", "b"]
    now[0] = 11
    reviewer.answers["a"] = Decision(403, "revoked")
    assert reviews.decide("a").code == 403
    assert reviewer.calls == ["a", "b", "a"]


def test_an_unavailable_api_is_not_cached():
    reviewer = Reviewer({"a": Decision(500, "authorization unavailable")})
    reviews = CachedReviews(reviewer)
    assert reviews.decide("a").code == 500
    reviewer.answers["a"] = Decision(200, "allowed")
    assert reviews.decide("a").code == 200


def fetch(port: int, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(f"https://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_the_endpoint_serves_only_what_the_review_allows():
    reviewer = Reviewer({"good": Decision(200, "allowed"), "bad": Decision(403, "u may not")})
    endpoint = secure_metrics_endpoint(
        "127.0.0.1:0", CachedReviews(reviewer), serving_context(None)
    )
    endpoint.start()
    try:
        assert fetch(endpoint.port, None)[0] == 401
        assert fetch(endpoint.port, "bad") == (403, "u may not\n")
        status, body = fetch(endpoint.port, "good")
        assert status == 200 and "rest_client_requests_total" in body
    finally:
        endpoint.stop()
