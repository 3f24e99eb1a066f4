"""projects/views/deliverables.py: the captions page (draft, save with a version, refusals), the
caption files for members and through share links (sent versions only), and the timeline zip."""

import pytest
from django.urls import reverse

from projects.models import FilmVersion, ShareLink
from tests.test_captions import narrated_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(project, alice, tmp_path):
    return narrated_version(project, alice, tmp_path)


def _post(version, **rows):
    data = {"edit_version": version.captions_version}
    for index, (start, end, text) in enumerate(rows.values()):
        data |= {f"start_{index}": start, f"end_{index}": end, f"text_{index}": text}
    return data


def test_the_page_offers_the_draft_and_saves_the_edited_cues(client, alice, version):
    client.force_login(alice)
    url = reverse("version_captions", args=[version.pk])
    page = client.get(url)
    assert b"Morning light on the harbour." in page.content
    response = client.post(url, _post(version, a=("0", "1.0", "Morning light."), b=("1.0", "1.9", "Boats.")))
    assert response.status_code == 302
    version.refresh_from_db()
    assert [c["text"] for c in version.captions] == ["Morning light.", "Boats."]
    vtt = client.get(reverse("version_captions_file", args=[version.pk, "vtt"]))
    assert vtt["Content-Type"].startswith("text/vtt")
    assert b"00:00:01.000 --> 00:00:01.900\nBoats." in vtt.content


def test_invalid_or_stale_cues_change_nothing(client, alice, version):
    client.force_login(alice)
    url = reverse("version_captions", args=[version.pk])
    assert client.post(url, _post(version, a=("1", "0.5", "Backwards."))).status_code == 400
    assert client.post(url, _post(version, a=("0", "3", "Past the end."))).status_code == 400
    client.post(url, _post(version, a=("0", "1", "First.")))
    stale = {"edit_version": 0, "start_0": "0", "end_0": "1", "text_0": "Second."}
    assert client.post(url, stale).status_code == 409
    version.refresh_from_db()
    assert [c["text"] for c in version.captions] == ["First."]


def test_outsiders_viewers_and_anonymous_are_kept_out(client, bob, carol, version):
    url = reverse("version_captions", args=[version.pk])
    assert client.get(url).status_code == 302
    client.force_login(carol)
    assert client.get(url).status_code == 404
    assert client.get(reverse("version_timeline", args=[version.pk])).status_code == 404
    client.force_login(bob)
    assert client.post(url, _post(version, a=("0", "1", "x"))).status_code == 403
    assert client.get(reverse("burn_version_captions", args=[version.pk])).status_code == 405


def test_the_share_link_serves_captions_only_for_sent_versions(client, alice, version):
    from generation import captions
    from generation.captions import Cue

    captions.save_captions(version, seen_version=0, cues=[Cue(0, 1, "Hello.")])
    link, token = ShareLink.issue(sequence=version.sequence, created_by=alice)
    url = reverse("shared_captions", args=[token]) + f"?v={version.number}"
    assert client.get(url).status_code == 410  # nothing sent: the link shows nothing yet
    version.send(by=alice)
    response = client.get(url)
    assert response.status_code == 200
    assert b"Hello." in response.content
    page = client.get(reverse("shared_film", args=[token]))
    assert f'<track kind="captions" src="{url}"'.encode() in page.content
    draft = FilmVersion.objects.create(
        sequence=version.sequence,
        number=2,
        duration=2.0,
        film=version.film.name,
        captions=[version.captions[0]],
    )
    assert client.get(reverse("shared_captions", args=[token]) + f"?v={draft.number}").status_code == 404


def test_the_timeline_zip_downloads_for_members(client, bob, version):
    client.force_login(bob)
    response = client.get(reverse("version_timeline", args=[version.pk]))
    # This version's takes are not recorded (a narration-only fixture): the page says why.
    assert response.status_code == 302
