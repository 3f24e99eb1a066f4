"""`{% storyboard_review_panel %}`: the client's review of the storyboard on the sequence page."""

from __future__ import annotations

from django import template

from projects import storyboard_review
from projects.models import Membership, ShareLink, StoryboardComment

register = template.Library()


@register.inclusion_tag("projects/_storyboard_review.html", takes_context=True)
def storyboard_review_panel(context: template.Context) -> dict:
    sequence = context["sequence"]
    role = getattr(sequence, "my_role", None)
    # The page's sequence was read with its project, in this request.
    required = sequence.project.requires_storyboard_approval
    links = list(sequence.share_links.filter(kind=ShareLink.Kind.STORYBOARD))
    comments = list(
        StoryboardComment.objects.filter(sequence=sequence, shot__isnull=False).order_by("created_at", "pk")
    )
    if comments:
        shots = sequence.shots.order_by("position", "pk").values_list("pk", flat=True)
        numbers = {pk: n for n, pk in enumerate(shots, 1)}
        for c in comments:
            c.number = numbers.get(c.shot_id)
    return {
        "sequence": sequence,
        "project": sequence.project,
        "csrf_token": context.get("csrf_token"),
        "panel": {
            "required": required,
            "state": storyboard_review.approval_state(sequence),
            "comments": comments,
            "links": links,
            "active_links": sum(1 for link in links if link.is_active),
            "can_edit": role in Membership.EDITING_ROLES,
            "is_owner": role == Membership.Role.OWNER,
        },
    }
