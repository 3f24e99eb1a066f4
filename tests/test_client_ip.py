"""projects.throttle.client_ip: the client's address behind TRUSTED_PROXIES proxies."""

import pytest
from django.test import RequestFactory

from projects.throttle import client_ip


def ip(settings, proxies: int, forwarded: str | None, remote: str = "10.0.0.2") -> str:
    settings.TRUSTED_PROXIES = proxies
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **extra))


def test_without_proxies_the_header_is_ignored(settings):
    assert ip(settings, 0, "203.0.113.9") == "10.0.0.2"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        # The client wrote "1.2.3.4" itself; the one proxy appended the address it saw.
        (1, "1.2.3.4, 203.0.113.9", "203.0.113.9"),
        (1, "203.0.113.9", "203.0.113.9"),
        (2, "1.2.3.4, 203.0.113.9, 10.0.0.7", "203.0.113.9"),
        (1, " 2001:db8::1 ", "2001:db8::1"),
    ],
)
def test_it_takes_the_nth_address_from_the_right(settings, proxies, forwarded, expected):
    """Fails before issue 10: the address was always REMOTE_ADDR, the proxy's."""
    assert ip(settings, proxies, forwarded) == expected


@pytest.mark.parametrize("forwarded", [None, "", "203.0.113.9", "not-an-address, 10.0.0.7"])
def test_a_short_missing_or_garbled_header_falls_back_to_remote_addr(settings, forwarded):
    assert ip(settings, 2, forwarded) == "10.0.0.2"
