"""Sign-in with throttling: after repeated failures for a username, or from one address, sign-in is
refused for a while with a page that says when to try again."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from projects import throttle


class ThrottledLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = (request.POST.get("username") or "").strip().lower()[:150]
        ip = throttle.client_ip(request)
        if throttle.is_blocked(
            "login-user", username, limit=settings.LOGIN_FAILURE_LIMIT
        ) or throttle.is_blocked("login-ip", ip, limit=settings.LOGIN_FAILURE_LIMIT * 4):
            minutes = max(1, settings.LOGIN_FAILURE_WINDOW // 60)
            return render(request, "registration/login_throttled.html", {"minutes": minutes}, status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            throttle.clear("login-user", username)
        else:
            throttle.record_failure("login-user", username, window=settings.LOGIN_FAILURE_WINDOW)
            throttle.record_failure("login-ip", ip, window=settings.LOGIN_FAILURE_WINDOW)
        return response


login = ThrottledLoginView.as_view()
