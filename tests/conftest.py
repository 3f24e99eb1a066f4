"""The shared cast: alice owns a project and has a budget, bob watches it, carol is an outsider."""

import pytest
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.servers.basehttp import WSGIServer

from generation import credits
from generation.models import CreditBudget
from projects.images import add_reference_images
from projects.models import Membership, Project, ReferenceSet
from tests.helpers import COLOURS, empty_cache, photo

pytest_plugins = ["generation.simulator.testing"]

# The live server's listen backlog (10) resets connections when 50 clients arrive at once, as the
# concurrency tests make them; a production server (gunicorn) listens with a backlog of 2048.
WSGIServer.request_queue_size = 128


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The modules with slow tests (qclusters, browsers, 4K media) go first: in a parallel run
    (--dist loadfile) a long module handed out last keeps one process busy after the others have
    finished. pytest-django then sorts the tests as Django does (transactional ones after the
    others), keeping this order within each kind."""
    slow_modules = {item.module for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module not in slow_modules)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    # Throttling counters live in the cache; each test starts with none.
    empty_cache(caches["default"])


@pytest.fixture
def alice(django_user_model):
    user = django_user_model.objects.create_user("alice", "alice@example.com", "alice-password")
    CreditBudget.objects.create(user=user, monthly_limit=1000)
    return user


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "bob-password")


@pytest.fixture
def carol(django_user_model):
    user = django_user_model.objects.create_user("carol", "carol@example.com", "carol-password")
    CreditBudget.objects.create(user=user, monthly_limit=1000)
    return user


@pytest.fixture
def boss(django_user_model):
    """The superuser the command line charges by default, with room for many clips."""
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "boss-password")
    credits.set_monthly_limit(user, credits=5000)
    return user


@pytest.fixture
def inline_pipeline(settings, runway):
    """Pipeline tasks run in the test's process against the simulator; the test drives the poller."""
    settings.PIPELINE_INLINE = True
    settings.RUNWAY_POLL_INTERVAL = 0.2
    settings.PIPELINE_LEASE_SECONDS = 2
    settings.RUNWAY_MAX_RETRIES = 3


@pytest.fixture
def runway_with_a_key(settings, runway):
    """The test simulator stands in for Runway "with a key" (commands use it as they find it), polled
    every 0.2 s: Runway's 5 s floor between polls of a task is lowered to that for the simulator."""
    settings.RUNWAY_SIMULATED = False
    settings.RUNWAY_POLL_INTERVAL = 0.2
    settings.RUNWAY_MIN_POLL_SECONDS = 0.2
    return runway


@pytest.fixture
def project(alice, bob):
    project = Project.objects.create(name="Harbour House", created_by=alice)
    Membership.objects.create(project=project, user=alice, role=Membership.Role.OWNER)
    Membership.objects.create(project=project, user=bob, role=Membership.Role.VIEWER)
    return project


@pytest.fixture
def references(project):
    reference_set = ReferenceSet.objects.create(project=project, name="Rooms")
    files = [SimpleUploadedFile(f"room{i}.jpg", photo(c, i)) for i, c in enumerate(COLOURS)]
    result = add_reference_images(reference_set, files=files)
    assert not result.rejected
    return reference_set
