"""The `form_fields` tag: an unbound form's HTML is kept per process, keyed by everything it shows."""

from django.template.loader import render_to_string

from projects.forms import SequenceForm, ShotForm
from projects.models import ReferenceSet, Sequence
from projects.templatetags.studio import form_fields

SHOT_FIELDS = "projects/_shot_fields.html"
SEQUENCE_FIELDS = "projects/_sequence_fields.html"


def test_a_kept_form_renders_as_a_fresh_one(alice, project):
    sequence = Sequence.objects.create(project=project, title="T", model="veo3.1_fast", created_by=alice)
    form = ShotForm(sequence=sequence, images=[], auto_id="new_%s")
    fresh = render_to_string(SHOT_FIELDS, {"form": ShotForm(sequence=sequence, images=[], auto_id="new_%s")})
    assert form_fields(SHOT_FIELDS, form) == fresh
    assert form_fields(SHOT_FIELDS, ShotForm(sequence=sequence, images=[], auto_id="new_%s")) == fresh


def test_other_values_and_choices_render_other_html(alice, project):
    sequence = Sequence.objects.create(project=project, title="Old title", created_by=alice)
    before = form_fields(SEQUENCE_FIELDS, SequenceForm(instance=sequence, project=project))
    sequence.title = "New title"
    retitled = form_fields(SEQUENCE_FIELDS, SequenceForm(instance=sequence, project=project))
    ReferenceSet.objects.create(project=project, name="Kitchen set")
    with_set = form_fields(SEQUENCE_FIELDS, SequenceForm(instance=sequence, project=project))
    assert "Old title" in before
    assert "New title" in retitled
    assert "Old title" not in retitled
    assert "Kitchen set" in with_set
    assert "Kitchen set" not in retitled


def test_a_bound_form_shows_its_input_and_errors(alice, project):
    sequence = Sequence.objects.create(project=project, title="T", created_by=alice)
    form = SequenceForm({"title": "", "model": "nonsense"}, instance=sequence, project=project)
    assert not form.is_valid()
    html = form_fields(SEQUENCE_FIELDS, form)
    assert "errorlist" in html
    assert html == render_to_string(SEQUENCE_FIELDS, {"form": form})
