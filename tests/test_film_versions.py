"""Every assembled film is a numbered version, never overwritten; the sequence page lists them with
their client feedback; members fetch any version's film, poster and 4K master.

The assemblies run the pipeline inline against the simulator over real HTTP, with real ffmpeg."""

import importlib

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generation import media, pipeline
from projects import review
from projects.models import FilmVersion, ReviewComment, ReviewDecision, Sequence
from tests.helpers import assert_ledger_exact, drive, make_sequence

first_versions = importlib.import_module("projects.migrations.0006_film_versions_from_films").first_versions


@pytest.mark.django_db(transaction=True)
def test_each_assembly_keeps_a_new_numbered_version(
    project, alice, references, runway_simulator, inline_pipeline, tmp_path
):
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)
    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    first = sequence.versions.get()
    assert first.number == 1
    assert (first.film.name, first.poster.name) == (sequence.film.name, sequence.poster.name)
    assert first.duration == sequence.film_duration
    first_bytes = first.film.open().read()

    pipeline.retake_shot(sequence.shots.get(position=0), user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    assert list(sequence.versions.values_list("number", flat=True)) == [2, 1]
    second = sequence.versions.get(number=2)
    # The latest version is what everything reading the sequence's film gets.
    assert (second.film.name, second.poster.name) == (sequence.film.name, sequence.poster.name)
    assert second.film.name != first.film.name
    # Version 1 is untouched, and both are real films.
    assert default_storage.exists(first.film.name)
    assert default_storage.exists(first.poster.name)
    assert first.film.open().read() == first_bytes
    # Each version keeps what it is made of, so the next one says what changed.
    assert review.changes(first.contents, None) == ["first version"]
    assert review.changes(second.contents, first.contents) == ["shot 1: take 2"]
    assert not first.is_sent
    assert not second.is_sent  # a draft until staff send it
    for version in (first, second):
        path = tmp_path / f"v{version.number}.mp4"
        path.write_bytes(version.film.open().read())
        assert abs(media.probe(path).duration - 4) <= 0.3
    assert_ledger_exact(alice, runway_simulator)


@pytest.mark.django_db
def test_a_finished_assembly_run_again_adds_no_version(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="assembling")
    assert pipeline._record_film_version(sequence.pk, film="films/a.mp4", poster="films/a.jpg", duration=4.0)
    assert (
        pipeline._record_film_version(sequence.pk, film="films/b.mp4", poster="films/b.jpg", duration=4.0)
        is None
    )
    pipeline.assemble_sequence(sequence.pk)  # done already: the claim fails, nothing is made
    assert list(sequence.versions.values_list("number", "film")) == [(1, "films/a.mp4")]


@pytest.mark.django_db
def test_version_numbers_follow_the_highest_one(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="assembling")
    FilmVersion.objects.create(sequence=sequence, number=4, film="films/old.mp4")
    version = pipeline._record_film_version(sequence.pk, film="films/new.mp4", poster="", duration=2.0)
    assert version.number == 5
    sequence.refresh_from_db()
    assert (sequence.status, sequence.film.name, sequence.film_duration) == ("done", "films/new.mp4", 2.0)


@pytest.mark.django_db
def test_films_made_before_versions_become_version_1(project, alice):
    old = Sequence.objects.create(
        project=project,
        title="Old",
        created_by=alice,
        status="done",
        film="films/1/film.mp4",
        film_duration=6.0,
    )
    Sequence.objects.create(project=project, title="Draft", created_by=alice)
    first_versions(apps, None)
    first_versions(apps, None)  # running it again changes nothing
    version = FilmVersion.objects.get()
    assert (version.sequence, version.number, version.film.name, version.duration) == (
        old,
        1,
        "films/1/film.mp4",
        6.0,
    )


# --- the sequence page and the version files ------------------------------------------------------


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Harbour House", created_by=alice, status="done"
    )
    for number in (1, 2):
        version = FilmVersion(sequence=sequence, number=number, duration=8.0)
        version.film.save("film.mp4", ContentFile(f"v{number}".encode() * 100), save=False)
        version.poster.save("poster.jpg", ContentFile(b"\xff\xd8"), save=False)
        version.save()
    Sequence.objects.filter(pk=sequence.pk).update(film=version.film.name, poster=version.poster.name)
    return sequence


def add_feedback(version, n):
    for i in range(n):
        ReviewComment.objects.create(
            version=version, author_name="Dana", body=f"Note {i}", at_seconds=i + 0.5
        )
    ReviewDecision.objects.create(version=version, author_name="Dana", verdict="changes", note="More light")


@pytest.mark.django_db
def test_the_sequence_page_lists_versions_with_their_feedback(client, alice, sequence):
    v1 = sequence.versions.get(number=1)
    add_feedback(v1, 2)
    ReviewDecision.objects.create(
        version=sequence.versions.get(number=2), author_name="Dana", verdict="approved"
    )
    client.force_login(alice)
    text = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert 'id="versions"' in text
    assert "Version 2" in text
    assert "Approved" in text
    assert "Changes requested" in text
    assert "2 comments" in text
    assert "0 comments" in text
    film_v1 = reverse("version_film", args=[v1.pk])
    assert f'href="{film_v1}#t=1.50" data-seek="1.50"' in text
    assert ">0:01</a>" in text
    assert "More light" in text
    assert "js/review.js" in text


@pytest.mark.django_db
def test_the_versions_section_costs_the_same_queries_for_more_feedback(client, alice, sequence, settings):
    settings.SEQUENCE_PAGE_CACHE_SECONDS = 0  # count the queries that make the section, every time
    client.force_login(alice)
    url = reverse("sequence_detail", args=[sequence.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for version in sequence.versions.all():
        add_feedback(version, 5)
    extra = FilmVersion(sequence=sequence, number=3, film="films/v3.mp4")
    extra.save()
    add_feedback(extra, 3)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


@pytest.mark.django_db
def test_a_viewer_sees_versions_and_feedback(client, bob, sequence):
    add_feedback(sequence.versions.get(number=2), 1)
    client.force_login(bob)
    text = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert "Note 0" in text


@pytest.mark.django_db
def test_members_fetch_each_versions_film_and_poster(client, bob, sequence):
    client.force_login(bob)
    v1 = sequence.versions.get(number=1)
    response = client.get(reverse("version_film", args=[v1.pk]) + "?download=1")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"v1" * 100
    assert 'attachment; filename="harbour-house-v1.mp4"' == response["Content-Disposition"]
    assert client.get(reverse("version_poster", args=[v1.pk])).status_code == 200
    # The sequence's own film address still gives the latest version.
    latest = client.get(reverse("sequence_film", args=[sequence.pk]))
    assert b"".join(latest.streaming_content) == b"v2" * 100


@pytest.mark.django_db
def test_the_4k_master_is_listed_and_served_when_made(client, alice, sequence):
    v2 = sequence.versions.get(number=2)
    client.force_login(alice)
    assert client.get(reverse("version_master", args=[v2.pk])).status_code == 404
    master_url = reverse("version_master", args=[v2.pk]) + "?download=1"
    assert master_url not in client.get(reverse("sequence_detail", args=[sequence.pk])).text
    v2.master.save("master.mp4", ContentFile(b"4k" * 10))
    assert master_url in client.get(reverse("sequence_detail", args=[sequence.pk])).text
    response = client.get(reverse("version_master", args=[v2.pk]) + "?download=1")
    assert "harbour-house-v2-4k.mp4" in response["Content-Disposition"]


@pytest.mark.django_db
def test_outsiders_get_404_and_anonymous_users_log_in(client, carol, sequence):
    url = reverse("version_film", args=[sequence.versions.get(number=1).pk])
    assert client.get(url).status_code == 302
    client.force_login(carol)
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_version_files_refuse_post(client, alice, sequence):
    client.force_login(alice)
    assert client.post(reverse("version_film", args=[sequence.versions.first().pk])).status_code == 405
