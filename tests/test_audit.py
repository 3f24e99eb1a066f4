"""The audit log: each change to a budget, a grant, a cap, a member or a share link is recorded with
who, what before and after, and where from, in the transaction of the change; admin reads it only."""

import csv
import io

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from generation import credits
from generation.audit import AuditEntry
from generation.models import CreditBudget
from projects import review, services
from projects.models import FilmVersion, Membership, Sequence

pytestmark = pytest.mark.django_db
Action = AuditEntry.Action


def _entries() -> list[tuple]:
    return list(
        AuditEntry.objects.order_by("pk").values_list(
            "actor_name", "action", "object_type", "description", "source"
        )
    )


def test_the_budget_command_is_recorded_as_the_command_line(alice):
    call_command("budget", "alice", "--limit", "1500", "--grant", "200", "--reason", "launch week",
                 stdout=io.StringIO())  # fmt: skip

    assert _entries() == [
        ("", Action.MONTHLY_LIMIT, "user", "1000 -> 1500 credits a month", "command line: budget"),
        ("", Action.GRANT, "user", f"0 -> 200 credits granted for {credits.month_start():%B %Y} (+200): launch week",
         "command line: budget"),
    ]  # fmt: skip


def test_setting_the_same_limit_records_nothing(alice):
    credits.set_monthly_limit(alice, credits=1000)
    assert _entries() == []


def test_an_owner_setting_the_cap_is_recorded_with_the_requests_address(client, alice, project, settings):
    settings.TRUSTED_PROXIES = 1
    client.force_login(alice)

    client.post(reverse("set_project_budget", args=[project.pk]), {"monthly_limit": "500"},
                HTTP_X_FORWARDED_FOR="203.0.113.7")  # fmt: skip
    client.post(reverse("set_project_budget", args=[project.pk]), {"monthly_limit": ""},
                HTTP_X_FORWARDED_FOR="203.0.113.7")  # fmt: skip

    assert _entries() == [
        ("alice", Action.PROJECT_CAP, "project", "no cap -> 500 credits a month", "203.0.113.7"),
        ("alice", Action.PROJECT_CAP, "project", "500 credits a month -> no cap", "203.0.113.7"),
    ]
    assert AuditEntry.objects.filter(actor=alice, object_id=str(project.pk)).count() == 2


def test_member_changes_are_recorded(client, alice, bob, carol, project):
    client.force_login(alice)

    client.post(reverse("add_member", args=[project.pk]), {"username": "carol", "role": "editor"})
    carol_membership = Membership.objects.get(project=project, user=carol)
    client.post(reverse("change_member_role", args=[carol_membership.pk]), {"role": "owner"})
    client.post(reverse("remove_member", args=[carol_membership.pk]), {"confirm": "yes"})

    assert [row[1:4] for row in _entries()] == [
        (Action.MEMBER_ADDED, "membership", "carol in 'Harbour House': none -> editor"),
        (Action.MEMBER_ROLE, "membership", "carol in 'Harbour House': editor -> owner"),
        (Action.MEMBER_REMOVED, "membership", "carol in 'Harbour House': owner -> none"),
    ]
    assert {row[0] for row in _entries()} == {"alice"}


def test_a_refused_change_records_nothing(alice, project):
    owner = Membership.objects.get(project=project, user=alice)

    with pytest.raises(services.LastOwner):
        services.change_role(owner, role="viewer", by=alice)
    with pytest.raises(services.LastOwner):
        services.remove_member(owner, by=alice)

    assert _entries() == []


def test_an_entry_commits_with_its_change_or_not_at_all(alice):
    def change_then_fail() -> None:
        with transaction.atomic():
            credits.set_monthly_limit(alice, credits=5, by=alice)
            assert len(_entries()) == 1
            raise RuntimeError("the caller's transaction fails after the change")

    with pytest.raises(RuntimeError):
        change_then_fail()

    assert CreditBudget.objects.get(user=alice).monthly_limit == 1000
    assert _entries() == []


def test_issuing_a_share_link_is_recorded(alice, project):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice)
    FilmVersion.objects.create(sequence=sequence, number=1, film="v1.mp4")

    link, _token = review.issue_link(sequence, created_by=alice, version_number=1, can_download=False)

    ((actor, action, kind, description, _source),) = _entries()
    assert (actor, action, kind) == ("alice", Action.LINK_CREATED, "share link")
    assert description.startswith("none -> link for 'Tour' (watch it, comment on it")
    assert AuditEntry.objects.get().object_id == str(link.pk)


def test_admin_changes_of_a_limit_and_a_cap_are_recorded(admin_client, alice, project):
    budget = CreditBudget.objects.get(user=alice)

    admin_client.post(reverse("admin:generation_creditbudget_change", args=[budget.pk]),
                      {"user": alice.pk, "monthly_limit": "2000"})  # fmt: skip

    assert _entries() == [
        ("admin", Action.MONTHLY_LIMIT, "user", "1000 -> 2000 credits a month", "127.0.0.1")
    ]


def test_the_audit_log_is_read_only_in_admin_and_exports_csv(admin_client, alice):
    credits.set_monthly_limit(alice, credits=1200, by=alice)
    credits.grant(alice, credits=5, reason="=cmd|' /C calc'!A0", by=alice)
    entry = AuditEntry.objects.order_by("pk").first()

    assert admin_client.get(reverse("admin:generation_auditentry_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:generation_auditentry_add")).status_code == 403
    response = admin_client.post(reverse("admin:generation_auditentry_change", args=[entry.pk]),
                                 {"description": "nothing happened"})  # fmt: skip
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.description == "1000 -> 1200 credits a month"
    filtered = admin_client.get(reverse("admin:generation_auditentry_changelist"), {"action__exact": "grant"})
    assert list(filtered.context["cl"].queryset.values_list("action", flat=True)) == ["grant"]

    response = admin_client.post(
        reverse("admin:generation_auditentry_changelist"),
        {"action": "export_csv", "_selected_action": list(AuditEntry.objects.values_list("pk", flat=True))},
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["id", "created_at", "actor", "action"]
    assert [row[3] for row in rows[1:]] == ["monthly_limit", "grant"]
    assert rows[2][6].startswith("0 -> 5 credits granted")  # the reason is inside, not at the start


def test_a_formula_description_is_escaped_in_the_csv(admin_client, alice, project):
    project.name = "=HYPERLINK(1)"
    project.save(update_fields=["name"])
    credits.set_project_limit(project, credits=9, by=alice)
    AuditEntry.objects.update(description="=HYPERLINK(1)")

    response = admin_client.post(
        reverse("admin:generation_auditentry_changelist"),
        {"action": "export_csv", "_selected_action": list(AuditEntry.objects.values_list("pk", flat=True))},
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][6] == "'=HYPERLINK(1)"
