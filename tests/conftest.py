"""The shared cast: alice owns a project and has a budget, bob watches it, carol is an outsider."""

import pytest

from generation.models import CreditBudget
from projects.models import Membership, Project

pytest_plugins = ["generation.simulator.testing"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


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
def project(alice, bob):
    project = Project.objects.create(name="Harbour House", created_by=alice)
    Membership.objects.create(project=project, user=alice, role=Membership.Role.OWNER)
    Membership.objects.create(project=project, user=bob, role=Membership.Role.VIEWER)
    return project
