"""The usage page."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from projects import usage as credit_usage

# --- usage ---------------------------------------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM = 720, 220, 20, 36


def _month_bars(months: list[dict]) -> dict:
    """Geometry of a server-rendered SVG bar chart of credits used per month."""
    peak = max((m["used"] for m in months), default=0) or 1
    slot = CHART_WIDTH / max(len(months), 1)
    bar_width = min(48.0, slot * 0.6)
    usable = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    bars = []
    for index, month in enumerate(months):
        height = round(month["used"] / peak * usable, 1)
        x = round(index * slot + (slot - bar_width) / 2, 1)
        bars.append(
            {
                "x": x,
                "y": round(CHART_TOP + usable - height, 1),
                "width": round(bar_width, 1),
                "height": height,
                "label_x": round(x + bar_width / 2, 1),
                "value_y": round(CHART_TOP + usable - height - 5, 1),
                "label": month["month"].strftime("%b %Y"),
                "used": month["used"],
                "released": month["released"],
            }
        )
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "axis_y": CHART_TOP + usable,
        "label_y": CHART_HEIGHT - 14,
    }


@login_required
def usage(request: HttpRequest) -> HttpResponse:
    report = credit_usage.usage_of(request.user)
    context = {
        "page": Paginator(report.entries, 25).get_page(request.GET.get("page")),
        "per_project": report.per_project,
        "per_month": report.per_month,
        "chart": _month_bars(report.per_month),
        "totals": report.totals,
        "meter": credit_usage.month_meter(request.user),
        "runs": credit_usage.recent_runs(request.user),
    }
    return render(request, "projects/usage.html", context)
