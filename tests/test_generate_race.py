"""50 concurrent Generate clicks from one user over real HTTP never spend past the budget."""

import threading

import pytest
import requests
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from generation import credits
from generation.models import LedgerEntry, Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db(transaction=True)
CSRF = "k" * 32  # Django accepts an unmasked secret as the form token


def _session_for(user) -> requests.Session:
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    session.cookies.set("csrftoken", CSRF)
    return session


def _one_shot_sequence(project, alice, reference, n: int) -> Sequence:
    sequence = Sequence.objects.create(
        project=project,
        title=f"Cut {n}",
        model="gen4_turbo",
        ratio="1280:720",
        is_stitched=False,
        created_by=alice,
    )
    Shot.objects.create(
        sequence=sequence,
        prompt="A slow pan",
        duration=2,
        first_frame=Shot.FirstFrame.REFERENCE,
        first_frame_image=reference,
    )
    return sequence


def _click_all(live_server, session, sequences) -> list[int]:
    statuses: list[int] = []
    start = threading.Barrier(len(sequences))

    def click(sequence: Sequence) -> None:
        url = live_server.url + reverse("start_sequence", args=[sequence.pk])
        start.wait()
        response = session.post(
            url, data={"csrfmiddlewaretoken": CSRF, "credits": "10"}, allow_redirects=False
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=click, args=(s,)) for s in sequences]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def test_fifty_generate_clicks_on_different_sequences_fit_the_budget(live_server, project, alice, references):
    credits.set_monthly_limit(alice, credits=100)
    reference = references.images.first()
    sequences = [_one_shot_sequence(project, alice, reference, n) for n in range(50)]

    statuses = _click_all(live_server, _session_for(alice), sequences)

    assert statuses == [302] * 50
    assert Sequence.objects.filter(status=Sequence.Status.RUNNING).count() == 10
    assert Sequence.objects.filter(status=Sequence.Status.DRAFT).count() == 40
    held = LedgerEntry.objects.filter(user=alice, kind="hold").aggregate(s=Sum("credits"))["s"]
    assert held == 100
    assert credits.month_summary(alice).available == 0
    assert Take.objects.count() == 10
    assert credits.recompute_figures() == []


def test_fifty_clicks_on_one_sequence_start_it_once(live_server, project, alice, references):
    sequence = _one_shot_sequence(project, alice, references.images.first(), 0)

    statuses = _click_all(live_server, _session_for(alice), [sequence] * 50)

    assert statuses == [302] * 50
    assert Take.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="hold").count() == 1
    assert credits.month_summary(alice).held == 10
    assert credits.recompute_figures() == []
