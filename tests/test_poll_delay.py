"""How long until a take is polled again: RUNWAY_POLL_INTERVAL, never sooner than Runway's floor
with a key, lengthened at random by up to a quarter, backing off after polls without an answer."""

from generation import pipeline


def seconds(errors: int = 0) -> list[float]:
    return [pipeline._poll_delay(errors).total_seconds() for _ in range(200)]


def test_with_a_key_a_take_is_never_polled_sooner_than_runways_floor(settings):
    settings.RUNWAY_SIMULATED = False
    settings.RUNWAY_POLL_INTERVAL = 1.0
    assert settings.RUNWAY_MIN_POLL_SECONDS == 5.0  # the default: what Runway asks
    delays = seconds()
    assert min(delays) >= 5.0
    assert max(delays) <= 5.0 * 1.25


def test_the_built_in_simulator_is_polled_at_the_interval(settings):
    settings.RUNWAY_SIMULATED = True
    settings.RUNWAY_POLL_INTERVAL = 1.0
    delays = seconds()
    assert 1.0 <= min(delays)
    assert max(delays) <= 1.25
    assert max(delays) > min(delays)  # the jitter spreads takes sent together


def test_polls_without_an_answer_back_off_up_to_two_minutes(settings):
    settings.RUNWAY_SIMULATED = False
    settings.RUNWAY_POLL_INTERVAL = 5.0
    assert 10.0 <= min(seconds(errors=1)) <= 12.5
    capped = seconds(errors=30)
    assert min(capped) >= 120.0
    assert max(capped) <= 150.0
