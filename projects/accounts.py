"""Sign-in with throttling, for the studio's and the admin's login pages alike: after repeated
failures for a username from one address, or from one address for any usernames, sign-in is refused
for a while with a page that says when to try again.

Failures for a username are counted per address, so that nobody can keep a named user out by
failing on purpose from elsewhere; the per-address cap bounds the guesses of any one client.
"""

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


login = _throttled(auth_views.LoginView.as_view())
admin_login = _throttled(admin.site.login)
