"""Media in an S3-compatible bucket by settings alone: the whole pipeline and the client download
run against moto's S3 server on loopback, and nothing is written under MEDIA_ROOT."""

import boto3
import pytest
from django.urls import reverse
from moto.server import ThreadedMotoServer

from generation import pipeline
from projects import review
from projects.models import Sequence
from tests.helpers import drive, make_sequence

pytestmark = pytest.mark.django_db(transaction=True)
BUCKET = "videogen-test"


@pytest.fixture
def s3(settings):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_ACCESS_KEY_ID = "testing"
    settings.AWS_SECRET_ACCESS_KEY = "testing"
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_QUERYSTRING_AUTH = True
    settings.AWS_S3_FILE_OVERWRITE = False
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    yield client
    server.stop()


def test_a_film_is_made_stored_and_shared_from_a_bucket(
    s3, settings, runway, project, alice, references, client
):
    settings.PIPELINE_INLINE = True
    settings.RUNWAY_POLL_INTERVAL = 0.2
    sequence = make_sequence(
        project, alice, references, model="veo3.1_fast", stitched=True, duration=4, shots=2
    )

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert sequence.film.name in keys
    assert sequence.poster.name in keys
    assert all(s.chosen_take.output.name in keys for s in sequence.shots.select_related("chosen_take"))
    assert not (settings.MEDIA_ROOT.exists() and any(p.is_file() for p in settings.MEDIA_ROOT.rglob("*")))

    review.send_version(sequence.versions.get(), by=alice)
    _, token = review.issue_link(sequence, created_by=alice)
    response = client.get(reverse("shared_film_download", args=[token]), HTTP_RANGE="bytes=0-7")
    assert response.status_code == 206
    assert b"".join(response.streaming_content)[4:8] == b"ftyp"
