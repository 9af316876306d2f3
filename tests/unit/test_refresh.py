"""The refresh schedule: TTL clamps, jitter bounds, backoff. Pure, no sleeping."""

from __future__ import annotations

import math
import random

import pytest

from headless_discovery import ConfigurationError, RefreshPolicy
from headless_discovery.refresh import RefreshSchedule


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
    ("kwargs", "message"),
    [
        ({"min_interval": 0}, "^need 0 < min_interval <= max_interval$"),
        ({"min_interval": 10, "max_interval": 5}, "^need 0 < min_interval <= max_interval$"),
        ({"jitter": 1.0}, "^jitter must be a fraction from 0 to below 1$"),
        ({"backoff_base": 0}, "^backoff_base must be positive$"),
        (
            {"max_stale": -1},
            r"^max_stale must be 0 or more seconds \(math.inf: no limit\), not -1$",
        ),
        ({"max_stale": float("nan")}, r"^max_stale must be 0 or more seconds .*, not nan$"),
        ({"default_interval": float("nan")}, "^default_interval must be positive$"),
        ({"jitter": float("nan")}, "^jitter must be a fraction from 0 to below 1$"),
        ({"cache_spread": float("nan")}, "^cache_spread must be a fraction from 0 to 1$"),
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RefreshPolicy(**kwargs)


# -- RefreshSchedule: one discovery's decisions, on a fake clock ------------------------------

IPV4 = frozenset({"ipv4"})
IPV6 = frozenset({"ipv6"})
BOTH = frozenset({"ipv4", "ipv6"})


class _Fixed(random.Random):
    """A random source that always draws ``value``: the ends of every spread."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _schedule(
    policy: RefreshPolicy | None = None, draw: float = 0.0
) -> tuple[RefreshSchedule, _Clock]:
    clock = _Clock()
    return RefreshSchedule(policy or RefreshPolicy(), _Fixed(draw), clock), clock


def _delays(
    ttls: list[float | None], draw: float, policy: RefreshPolicy | None = None
) -> list[float]:
    schedule, clock = _schedule(policy, draw)
    delays = []
    for ttl in ttls:
        delay = schedule.answered(ttl, "any", BOTH)
        delays.append(delay)
        clock.now += delay
    return delays


def test_a_cached_answer_is_asked_again_just_after_it_expires() -> None:
    # CoreDNS's cache: fresh 5, then what remains of it, never 0. The first answer is spread
    # over a second; then each lookup is at the remaining TTL, plus up to 5 % of the
    # fresh TTL (0.25 s), never before: asking earlier returns the same answer.
    ttls: list[float | None] = [5, 4, 3, 2, 1, 5]
    assert _delays(ttls, 0.0) == [5, 4, 3, 2, 1, 5]
    assert _delays(ttls, 0.999) == pytest.approx([5.999, 4.25, 3.25, 2.25, 1.25, 5.25], abs=0.01)


def test_a_cache_that_serves_a_ttl_of_zero_rounds_down_so_a_second_more() -> None:
    # Fresh 5 then cached 4, 3, 2, 1, 0: only a cache that rounds the remaining TTL down
    # serves 0, and its answers expire up to a second after their TTL says.
    assert _delays([5, 4, 3, 2, 1, 0, 4, 1], 0.0) == [5, 4, 3, 2, 1, 1, 5, 2]


def test_without_a_cache_every_answer_is_fresh() -> None:
    assert _delays([5, 5, 5, 5], 0.0) == [5, 5, 5, 5]
    assert _delays([5, 5, 5, 5], 0.999) == pytest.approx([5.999, 5.25, 5.25, 5.25], abs=0.01)


def test_no_ttl_keeps_the_default_interval_with_refresh_ahead() -> None:
    assert _delays([None, None], 0.0) == [5, 5]
    assert _delays([None, None], 0.999) == pytest.approx([4.0, 4.0], abs=0.01)
    # No TTL says nothing about a cache: the first TTL seen after it is still the first.
    assert _delays([None, 5], 0.5) == pytest.approx([4.5, 5.5])


def test_the_bounds_still_apply() -> None:
    policy = RefreshPolicy(min_interval=2.0, max_interval=20.0)
    # A TTL of 0 at the source is no busy loop; the spread is of min_interval then.
    assert _delays([0, 0, 0], 0.0, policy) == [2, 2, 2]
    assert _delays([0, 0, 0], 0.999, policy) == pytest.approx([3.0, 2.1, 2.1], abs=0.01)
    # At or past the ceiling, refresh-ahead under it, as before.
    assert _delays([3600, 20], 0.0, policy) == [20, 20]
    assert _delays([3600, 20], 0.999, policy) == pytest.approx([16, 16], abs=0.01)
    # Just under it, the spread stops at it.
    assert _delays([19, 19], 0.999, policy) == pytest.approx([20, 19.95], abs=0.01)
    assert _delays([0.5], 0.5, RefreshPolicy(min_interval=0.1)) == [0.75]  # under a second


def test_the_spread_is_really_spread_over_its_range() -> None:
    policy = RefreshPolicy(cache_spread=0.2)
    schedule = RefreshSchedule(policy, random.Random(7), _Clock())
    schedule.answered(5, "any", BOTH)
    delays = [schedule.answered(3, "any", BOTH) for _ in range(2000)]
    assert 3.0 <= min(delays) < 3.01
    assert 3.99 < max(delays) <= 4.0


def test_a_lowered_ttl_at_the_source_is_learnt() -> None:
    # Fresh 30, then 5 seen again and again: cached at first (the spread is 5 % of 30),
    # until 30 has not been seen for four TTLs; then 5 is the fresh TTL.
    schedule, clock = _schedule(draw=0.999)
    schedule.answered(30, "any", BOTH)
    assert schedule.answered(5, "any", BOTH) == pytest.approx(6.5, abs=0.01)
    clock.now += 4 * 30 + 1
    assert schedule.answered(5, "any", BOTH) == pytest.approx(6.5, abs=0.01)
    clock.now += 0.01
    assert schedule.answered(5, "any", BOTH) == pytest.approx(5.25, abs=0.01)


def test_refresh_ahead_is_kept_when_not_cache_aware() -> None:
    policy = RefreshPolicy(cache_aware=False)
    schedule = RefreshSchedule(policy, random.Random(11), _Clock())
    expected = random.Random(11)
    for ttl in (5, 4, 3, 2, 1, 0, None, 3600):
        assert schedule.answered(ttl, "any", BOTH) == policy.after_success(ttl, expected)


def test_empty_and_failed_are_the_policy_s() -> None:
    policy = RefreshPolicy()
    schedule = RefreshSchedule(policy, random.Random(13), _Clock())
    expected = random.Random(13)
    assert schedule.empty() == policy.after_empty(expected)
    for failures in (1, 2, 3, 10):
        assert schedule.failed(failures) == policy.after_failure(failures, expected)


def test_aaaa_is_backed_off_while_it_comes_back_empty() -> None:
    schedule, clock = _schedule()
    assert schedule.family("any") == "any"
    schedule.answered(5, "any", IPV4)
    assert schedule.family("any") == "ipv4"
    clock.now += 59.99
    schedule.answered(5, "ipv4", IPV4)  # asking A only neither ends nor renews it
    assert schedule.family("any") == "ipv4"
    clock.now += 0.01
    assert schedule.family("any") == "any"  # the probe, once a minute
    schedule.answered(5, "any", IPV4)  # still nothing: another minute
    clock.now += 59.99
    assert schedule.family("any") == "ipv4"
    clock.now += 0.01
    assert schedule.family("any") == "any"


def test_aaaa_with_addresses_ends_the_back_off() -> None:
    schedule, clock = _schedule()
    schedule.answered(5, "any", IPV4)
    clock.now += 60
    schedule.answered(5, "any", BOTH)
    assert schedule.family("any") == "any"
    clock.now += 1
    assert schedule.family("any") == "any"


def test_dual_stack_never_backs_off() -> None:
    schedule, clock = _schedule()
    for _ in range(10):
        assert schedule.family("any") == "any"
        clock.now += schedule.answered(5, "any", BOTH)


def test_ipv6_only_backs_off_a() -> None:
    schedule, clock = _schedule(RefreshPolicy(family_probe_interval=10))
    schedule.answered(5, "any", IPV6)
    assert schedule.family("any") == "ipv6"
    clock.now += 9.99
    assert schedule.family("any") == "ipv6"
    clock.now += 0.01
    assert schedule.family("any") == "any"


def test_a_family_asked_for_is_never_changed() -> None:
    schedule, _ = _schedule()
    schedule.answered(5, "ipv4", IPV4)
    assert schedule.family("ipv4") == "ipv4"
    assert schedule.family("ipv6") == "ipv6"
    assert schedule.family("any") == "any"  # a one-family lookup says nothing of the other
    schedule.answered(5, "any", IPV4)
    assert schedule.family("ipv6") == "ipv6"


def test_an_empty_answer_ends_the_back_off_and_a_failure_does_not() -> None:
    schedule, _ = _schedule()
    schedule.answered(5, "any", IPV4)
    schedule.failed(1)
    assert schedule.family("any") == "ipv4"
    schedule.empty()
    assert schedule.family("any") == "any"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cache_spread": -0.01}, "cache_spread must be a fraction from 0 to 1"),
        ({"cache_spread": 1.01}, "cache_spread must be a fraction from 0 to 1"),
        ({"family_probe_interval": 0}, "family_probe_interval must be positive"),
        ({"family_probe_interval": -1}, "family_probe_interval must be positive"),
    ],
)
def test_bad_new_fields_are_refused(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        RefreshPolicy(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"cache_spread": 0.0}, {"cache_spread": 1.0}, {"family_probe_interval": 1e-9}],
)
def test_new_fields_at_their_limits_are_accepted(kwargs: dict[str, float]) -> None:
    assert RefreshPolicy(**kwargs)


@pytest.mark.parametrize(
    "name", ["default_interval", "negative_interval", "backoff_base", "backoff_max"]
)
def test_each_positive_field_refuses_zero_and_takes_a_little_more(name: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{name} must be positive$"):
        RefreshPolicy(**{name: 0})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=rf"^{name} must be positive$"):
        RefreshPolicy(**{name: float("nan")})  # type: ignore[arg-type]
    assert getattr(RefreshPolicy(**{name: 1e-9}), name) == 1e-9  # type: ignore[arg-type]


def test_the_old_fields_at_their_limits_and_one_past() -> None:
    assert RefreshPolicy(min_interval=5, max_interval=5).min_interval == 5
    assert RefreshPolicy(jitter=0.0).jitter == 0.0
    assert RefreshPolicy(jitter=0.999).jitter == 0.999
    assert RefreshPolicy(max_stale=0).max_stale == 0
    with pytest.raises(ConfigurationError, match=r"^jitter must be a fraction from 0 to below 1$"):
        RefreshPolicy(jitter=-0.01)
    with pytest.raises(ConfigurationError, match=r"^need 0 < min_interval <= max_interval$"):
        RefreshPolicy(min_interval=5.01, max_interval=5)
    with pytest.raises(ConfigurationError, match=r"^need 0 < min_interval <= max_interval$"):
        RefreshPolicy(min_interval=-1, max_interval=5)
    with pytest.raises(ConfigurationError, match=r"^max_stale must be 0 or more .*, not -0.01$"):
        RefreshPolicy(max_stale=-0.01)
    assert RefreshPolicy(max_stale=math.inf).max_stale == math.inf


class _Fixed:
    """A random source that always draws the same number."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def test_failure_backoff_is_equal_jitter_over_the_upper_half() -> None:
    policy = RefreshPolicy(backoff_base=1.0, backoff_max=30.0)
    assert policy.after_failure(1, _Fixed(0.0)) == 0.5  # type: ignore[arg-type]
    assert policy.after_failure(1, _Fixed(0.99)) == pytest.approx(0.995)  # type: ignore[arg-type]
    assert policy.after_failure(3, _Fixed(0.99)) == pytest.approx(3.98)  # type: ignore[arg-type]


def test_the_backoff_exponent_stops_at_62_without_a_cap() -> None:
    policy = RefreshPolicy(backoff_base=1.0, backoff_max=math.inf)
    assert policy.after_failure(64, _Fixed(0.0)) == 2.0**61  # type: ignore[arg-type]
    assert policy.after_failure(10_000, _Fixed(0.0)) == 2.0**61  # type: ignore[arg-type]


def test_a_bad_cache_spread_is_refused_with_its_message() -> None:
    with pytest.raises(ConfigurationError, match=r"^cache_spread must be a fraction from 0 to 1$"):
        RefreshPolicy(cache_spread=1.5)
