"""The refresh schedule: TTL clamps, jitter bounds, backoff. Pure, no sleeping."""

from __future__ import annotations

import random

import pytest

from headless_discovery import ConfigurationError, RefreshPolicy


def test_ttl_is_clamped_and_jitter_only_shortens() -> None:
    policy = RefreshPolicy(min_interval=1.0, max_interval=30.0, jitter=0.2)
    rng = random.Random(3)
    for ttl, low, high in [(0, 0.8, 1.0), (5, 4.0, 5.0), (3600, 24.0, 30.0), (None, 4.0, 5.0)]:
        delays = [policy.after_success(ttl, rng) for _ in range(2000)]
        assert low <= min(delays)
        assert max(delays) <= high
        # The jitter is really spread over its range, not a constant.
        assert max(delays) - min(delays) > (high - low) * 0.9


def test_refresh_ahead_never_waits_past_the_ttl() -> None:
    policy = RefreshPolicy()
    rng = random.Random(1)
    assert all(policy.after_success(5.0, rng) <= 5.0 for _ in range(1000))


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    policy = RefreshPolicy(backoff_base=0.5, backoff_max=8.0)
    rng = random.Random(5)
    for failures, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (5, 8.0), (40, 8.0), (10_000, 8.0)]:
        delays = [policy.after_failure(failures, rng) for _ in range(500)]
        assert ceiling / 2 <= min(delays)
        assert max(delays) <= ceiling


def test_negative_answers_are_retried_soon() -> None:
    policy = RefreshPolicy(negative_interval=5.0)
    assert all(4.0 <= policy.after_empty(random.Random(i)) <= 5.0 for i in range(100))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_interval": 0},
        {"min_interval": 10, "max_interval": 5},
        {"jitter": 1.0},
        {"backoff_base": 0},
        {"max_stale": -1},
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        RefreshPolicy(**kwargs)
