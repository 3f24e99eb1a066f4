"""A Content-Security-Policy and a Permissions-Policy header on every response (Django 5.2 has neither
built in).

Every script is a static file (`static/js/`; Django's admin has had no inline scripts since 3.x),
and `json_script` data blocks are not executed, so scripts need no nonce. Style attributes stay
allowed: pages use them for spacing and the credit meters' widths, and the live progress panel
swaps in server-rendered fragments that carry them. `<style>` elements and foreign style sheets
remain refused.

The pages use no camera, microphone, location or other powerful browser feature, so the
Permissions-Policy denies them all, to the pages and to anything they might embed. Fullscreen,
picture-in-picture and autoplay stay allowed: the film players use them.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'self'",
    ]
)

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in [
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # A view that needs its own policy sets the header itself.
        response.headers.setdefault("Content-Security-Policy", POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
