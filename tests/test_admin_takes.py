import pytest
from django.urls import reverse

from generation import credits
from generation.models import LedgerEntry, Take
from projects.models import Keyframe, Sequence, Shot

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:generation_take_changelist")


@pytest.fixture
def unconfirmed(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="attention")
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")
    take = Take.objects.create(
        shot=shot, user=alice, status="unconfirmed", failure_code="UNCONFIRMED", estimated_credits=40
    )
    credits.reserve(alice, credits=40, reason="Generate", project=project, take=take)
    return take


def resolve(admin_client, take, **data):
    return admin_client.post(
        CHANGELIST,
        {"action": "resolve_unconfirmed", "_selected_action": [take.pk], "apply": "1", **data},
        follow=True,
    )


def test_the_take_list_warns_about_unconfirmed_holds(admin_client, unconfirmed):
    response = admin_client.get(CHANGELIST)
    assert "1 unconfirmed take(s) hold credits" in response.text


def test_the_action_asks_what_runway_did_first(admin_client, unconfirmed):
    response = admin_client.post(
        CHANGELIST, {"action": "resolve_unconfirmed", "_selected_action": [unconfirmed.pk]}
    )
    assert "Resolve unconfirmed takes" in response.text
    assert "40 credits held" in response.text
    assert credits.open_holds().count() == 1


def test_an_admin_settles_a_take_runway_charged(admin_client, alice, unconfirmed):
    response = resolve(admin_client, unconfirmed, outcome="charged", reason="In the usage report")
    assert "1 take(s) resolved: settled at their estimate." in response.text
    unconfirmed.refresh_from_db()
    assert (unconfirmed.status, unconfirmed.cost_credits) == ("failed", 40)
    (settle,) = LedgerEntry.objects.filter(kind="settle")
    assert settle.credits == 40
    assert "In the usage report" in settle.reason
    assert "admin" in settle.reason
    assert credits.month_summary(alice).used == 40


def test_an_admin_releases_a_take_runway_did_not_charge(admin_client, alice, unconfirmed):
    resolve(admin_client, unconfirmed, outcome="not_charged", reason="Not in the usage report")
    assert list(LedgerEntry.objects.filter(kind="release").values_list("credits", flat=True)) == [40]
    assert credits.month_summary(alice).available == 1000


def test_resolving_needs_a_reason_and_changes_nothing_without_one(admin_client, unconfirmed):
    response = resolve(admin_client, unconfirmed, outcome="charged", reason="")
    assert "This field is required" in response.text
    unconfirmed.refresh_from_db()
    assert unconfirmed.status == "unconfirmed"
    assert credits.open_holds().count() == 1


def test_resolving_twice_changes_nothing(admin_client, unconfirmed):
    resolve(admin_client, unconfirmed, outcome="charged", reason="Checked")
    response = resolve(admin_client, unconfirmed, outcome="not_charged", reason="Again")
    assert "None of the selected takes is unconfirmed" in response.text
    assert LedgerEntry.objects.filter(kind__in=["settle", "release"]).count() == 1


def test_the_take_list_tells_keyframe_images_from_clips(admin_client, alice, unconfirmed):
    keyframe = Keyframe.objects.create(shot=unconfirmed.shot, slot="first", prompt="@hall at dusk")
    Take.objects.create(shot=unconfirmed.shot, keyframe=keyframe, user=alice, endpoint="text_to_image")

    response = admin_client.get(CHANGELIST, {"status__exact": "queued"})
    assert "first keyframe image" in response.text
    response = admin_client.get(CHANGELIST, {"kind__exact": "clip", "status__exact": "unconfirmed"})
    assert ">Clip<" in response.text
    assert "keyframe image" not in response.text
