"""Scale-out: two qclusters and two pollers (as if on two hosts) share one database, broker and
media store. Every take is submitted exactly once, every sequence finishes, the ledger is exact.
CI runs this on PostgreSQL with the Redis broker (and on SQLite with the ORM broker)."""

import pytest

from generation import credits, pipeline
from generation.models import Take
from projects.models import Sequence
from tests.helpers import (
    Cluster,
    assert_ledger_exact,
    assert_no_duplicate_submissions,
    cluster_env,
    final,
    make_sequence,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_two_hosts_share_a_workload_exactly_once(settings, runway, tmp_path, project, alice, references):
    settings.PIPELINE_INLINE = False
    credits.set_monthly_limit(alice, credits=5000)
    sequences = [
        make_sequence(project, alice, references, model="veo3.1_fast", stitched=True, duration=4),
        make_sequence(
            project, alice, references, model="veo3.1_fast", stitched=True, duration=4, has_audio=False
        ),
        make_sequence(project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=4),
        make_sequence(project, alice, references, model="gen4_turbo", stitched=False, duration=3),
    ]
    host = Cluster(cluster_env(settings, runway), tmp_path)
    try:
        for name in ("qcluster", "qcluster-2", "poller", "poller-2"):
            host.start(name)
        for sequence in sequences:
            pipeline.start_sequence(sequence, user=alice)

        for sequence in sequences:
            assert final(sequence, timeout=180).status == Sequence.Status.DONE, sequence.status_message
    finally:
        host.stop_all()

    assert Take.objects.count() == 3 + 3 + 4 + 3
    assert set(Take.objects.values_list("status", flat=True)) == {Take.Status.SUCCEEDED}
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)
    assert credits.month_summary(alice).used == 3 * 4 * 15 + 3 * 4 * 10 + 4 * 2 * 5 + 3 * 3 * 5
