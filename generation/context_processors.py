from django.conf import settings
from django.http import HttpRequest


def runway(request: HttpRequest) -> dict:
    return {"runway_simulated": settings.RUNWAY_SIMULATED}
