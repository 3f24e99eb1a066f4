"""Sign-in and password reset with throttling.

Sign-in, for the studio's and the admin's login pages alike: after repeated failures for a username
from one address, or from one address for any usernames, sign-in is refused for a while with a page
that says when to try again. Failures for a username are counted per address, so that nobody can
keep a named user out by failing on purpose from elsewhere; the per-address cap bounds the guesses
of any one client.

Password reset: every request counts, for the email address typed (from anywhere, so that nobody
can fill someone's inbox with reset mail) and for the client's address (four times as many, so that
one client cannot probe or mail many accounts). The count is kept by the address typed, whether an
account has it or not, so an unknown address gets the same pages as a known one, throttled or not.
"""

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from projects import throttle


def _throttled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def throttled_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        username = (request.POST.get("username") or "").strip().lower()[:150]
        ip = throttle.client_ip(request)
        user_key = f"{ip}|{username}"
        if throttle.is_blocked("login-user", user_key, limit=settings.LOGIN_FAILURE_LIMIT) or (
            throttle.is_blocked("login-ip", ip, limit=settings.LOGIN_FAILURE_LIMIT * 4)
        ):
            minutes = max(1, settings.LOGIN_FAILURE_WINDOW // 60)
            return render(request, "registration/login_throttled.html", {"minutes": minutes}, status=429)
        response = view(request, *args, **kwargs)
        # A valid form logs in and redirects; an invalid one renders the form again. The session's
        # user alone would not do: someone already signed in may be guessing another's password.
        if response.status_code == 302 and request.user.is_authenticated:
            throttle.clear("login-user", user_key)
        else:
            throttle.record_failure("login-user", user_key, window=settings.LOGIN_FAILURE_WINDOW)
            throttle.record_failure("login-ip", ip, window=settings.LOGIN_FAILURE_WINDOW)
        return response

    return throttled_view


def _reset_throttled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def throttled_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        # As PasswordResetForm.get_users matches it (iexact); hashed, to keep addresses out of the cache.
        email = (request.POST.get("email") or "").strip().lower()
        email_key = hashlib.sha256(email.encode()).hexdigest()
        ip = throttle.client_ip(request)
        limit, window = settings.PASSWORD_RESET_LIMIT, settings.PASSWORD_RESET_WINDOW
        # Counted before the check, by an atomic increment: requests sent at once cannot all pass
        # between one check and its count. The client's count goes first, so that a client over
        # its own limit does not use up the quota of the address it typed.
        if (
            throttle.record_failure("reset-ip", ip, window=window) > limit * 4
            or throttle.record_failure("reset-email", email_key, window=window) > limit
        ):
            minutes = max(1, window // 60)
            return render(
                request, "registration/password_reset_throttled.html", {"minutes": minutes}, status=429
            )
        return view(request, *args, **kwargs)

    return throttled_view


login = _throttled(auth_views.LoginView.as_view())
admin_login = _throttled(admin.site.login)
password_reset = _reset_throttled(auth_views.PasswordResetView.as_view())
