"""Migration 0010 keeps live links working: every version a link already showed counts as sent (a
pinned link's version, each version that was the latest while a latest link was usable, each
version with feedback), later drafts stay drafts, and review links keep commenting and approving."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("projects", "0009_sequence_lease_token")]
AFTER = [("projects", "0010_publishing_and_link_switches")]


@pytest.mark.django_db(transaction=True)
def test_versions_links_showed_count_as_sent_and_review_links_keep_their_rights(django_user_model):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    User = apps.get_model("auth", "User")
    Project = apps.get_model("projects", "Project")
    Sequence = apps.get_model("projects", "Sequence")
    FilmVersion = apps.get_model("projects", "FilmVersion")
    ShareLink = apps.get_model("projects", "ShareLink")
    ReviewComment = apps.get_model("projects", "ReviewComment")
    now = timezone.now()
    day = dt.timedelta(days=1)
    user = User.objects.create(username="mig")
    project = Project.objects.create(name="P", created_by=user)
    seq = Sequence.objects.create(project=project, title="S", created_by=user)
    v = {
        n: FilmVersion.objects.create(
            sequence=seq, number=n, film=f"f{n}.mp4", created_at=now - (10 - n) * day
        )
        for n in range(1, 7)
    }
    # Versions 1-6 were made 9, 8, ... 4 days ago. A latest link usable from 7.5 to 5.5 days ago
    # (then revoked) showed versions 2, 3 and 4; a watch-only link pinned today shows version 1;
    # versions 5 and 6 were never shown.
    ShareLink.objects.create(
        sequence=seq,
        created_by=user,
        token_digest="a" * 64,
        created_at=now - 7.5 * day,
        revoked_at=now - 5.5 * day,
    )
    ShareLink.objects.create(
        sequence=seq, created_by=user, token_digest="b" * 64, version=v[1], can_review=False, created_at=now
    )
    # Another sequence: version 1 pinned, version 2 commented on, version 3 a draft nobody saw.
    other = Sequence.objects.create(project=project, title="T", created_by=user)
    w1 = FilmVersion.objects.create(sequence=other, number=1, film="w1.mp4", created_at=now - 3 * day)
    w2 = FilmVersion.objects.create(sequence=other, number=2, film="w2.mp4", created_at=now - 2 * day)
    w3 = FilmVersion.objects.create(sequence=other, number=3, film="w3.mp4", created_at=now - day)
    ShareLink.objects.create(
        sequence=other, created_by=user, token_digest="c" * 64, version=w1, created_at=now - 2.5 * day
    )
    ReviewComment.objects.create(version=w2, author_name="Dana", body="hi")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    FilmVersion = apps.get_model("projects", "FilmVersion")
    ShareLink = apps.get_model("projects", "ShareLink")
    sent = set(FilmVersion.objects.filter(sent_at__isnull=False).values_list("sequence__title", "number"))
    assert sent == {("S", 1), ("S", 2), ("S", 3), ("S", 4), ("T", 1), ("T", 2)}
    assert not FilmVersion.objects.get(pk=w3.pk).sent_at
    review = ShareLink.objects.get(token_digest="a" * 64)
    watch = ShareLink.objects.get(token_digest="b" * 64)
    assert (review.can_comment, review.can_approve) == (True, True)
    assert (watch.can_comment, watch.can_approve) == (False, False)
    assert FilmVersion.objects.get(pk=v[2].pk).sent_at == review.created_at

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
