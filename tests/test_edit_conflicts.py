"""No save reverts another: two members editing the same shot, sequence or keyframe, and the
narration saved while the pipeline writes the film. Each form is read off the page as a browser
would post it (hidden version included), so that a test posts exactly what a stale page holds."""

import threading
from contextlib import contextmanager
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from generation.models import Take
from projects import services
from projects.models import Keyframe, Membership, Sequence, Shot

pytestmark = pytest.mark.django_db


class _FormReader(HTMLParser):
    """The fields of the form posting to `action`, as a browser would send them unchanged."""

    def __init__(self, action: str | None) -> None:
        super().__init__()
        self.action = action
        self.is_inside = False
        self.data: dict[str, str] = {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "form":
            self.is_inside = attrs.get("action") == self.action
        if not self.is_inside:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data[name] = attrs.get("value", "on")
            else:
                self.data[name] = attrs.get("value") or ""
        elif tag == "select":
            self.select = name
        elif tag == "option" and self.select and "selected" in attrs:
            self.data[self.select] = attrs.get("value", "")
        elif tag == "textarea":
            self.textarea = name
            self.data[name] = ""

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.data[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.is_inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_on(page: str, action: str | None) -> dict[str, str]:
    """The fields of the page's form posting to `action` (None: the form without an action)."""
    reader = _FormReader(action)
    reader.feed(page)
    assert reader.data, f"no form posting to {action}"
    reader.data.pop("csrfmiddlewaretoken", None)
    # The textarea's first newline is not part of its value (HTML drops it).
    return {k: v.removeprefix("\n") for k, v in reader.data.items()}


@pytest.fixture
def carol_edits(project, carol):
    Membership.objects.create(project=project, user=carol, role=Membership.Role.EDITOR)
    return carol


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@contextmanager
def written_just_before_the_view_writes(model, pk: int, **columns):
    """Another writer (the pipeline, another form) sets `columns` of the row after the view has
    loaded it and just before the view's first write of that table: its UPDATE runs right before
    the view's own on the same connection, so the order is certain. Yields the statements seen."""
    table = model._meta.db_table
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    other_sql = f"UPDATE {quote(table)} SET {assignments} WHERE {quote('id')} = %s"
    fired: list[str] = []

    def other_first(execute, sql, params, many, context):
        if not fired and sql.lstrip().upper().startswith("UPDATE") and table in sql:
            fired.append(sql)
            execute(other_sql, [*columns.values(), pk], False, context)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(other_first):
        yield fired
    assert fired, f"the view never wrote {table}"


@pytest.fixture
def sequence(project, alice):
    return Sequence.objects.create(project=project, title="Tour", model="gen4.5", created_by=alice)


@pytest.fixture
def shot(sequence):
    return Shot.objects.create(sequence=sequence, prompt="Hall", duration=5, first_frame="none")


# --- shots -----------------------------------------------------------------------------------------


def shot_form(client: Client, shot: Shot) -> dict[str, str]:
    page = client.get(reverse("sequence_detail", args=[shot.sequence_id]), {"edit": shot.pk}).text
    return form_on(page, reverse("edit_shot", args=[shot.pk]))


def test_a_stale_shot_form_is_refused_and_keeps_what_was_typed(alice, carol_edits, shot):
    owner, editor = logged_in(alice), logged_in(carol_edits)
    owners_form, editors_form = shot_form(owner, shot), shot_form(editor, shot)
    assert owners_form["prompt"] == "Hall"

    response = editor.post(reverse("edit_shot", args=[shot.pk]), {**editors_form, "prompt": "Grand hall"})
    assert response.status_code == 302
    # The owner's page still shows the old prompt; they change only the duration and the seed.
    response = owner.post(
        reverse("edit_shot", args=[shot.pk]), {**owners_form, "duration": "10", "seed": "77"}
    )

    assert response.status_code == 409
    shot.refresh_from_db()
    assert (shot.prompt, shot.duration, shot.seed) == ("Grand hall", 5, None)
    page = response.text
    assert "Shot saved." not in page
    assert "Someone else saved this while you were editing it" in page
    assert "<td>Hall</td><td>Grand hall</td>" in page  # the prompt: what they had seen, what is there now
    assert '<th scope="row">Duration (seconds)</th>' not in page  # nobody else changed the duration
    again = form_on(page, reverse("edit_shot", args=[shot.pk]))
    assert (again["prompt"], again["duration"], again["seed"]) == ("Hall", "10", "77")  # what they typed

    response = owner.post(reverse("edit_shot", args=[shot.pk]), {**again, "prompt": "Grand hall, at noon"})
    assert response.status_code == 302
    shot.refresh_from_db()
    assert (shot.prompt, shot.duration, shot.seed) == ("Grand hall, at noon", 10, 77)


def test_a_shot_form_without_a_version_is_treated_as_stale(alice, shot):
    """A page made before edit versions existed: what is there now is shown, the text kept."""
    client = logged_in(alice)
    form = {k: v for k, v in shot_form(client, shot).items() if k not in ("edit_version", "seen")}

    response = client.post(reverse("edit_shot", args=[shot.pk]), {**form, "prompt": "Grand hall"})

    assert response.status_code == 409
    shot.refresh_from_db()
    assert shot.prompt == "Hall"
    again = form_on(response.text, reverse("edit_shot", args=[shot.pk]))
    assert again["prompt"] == "Grand hall"
    assert client.post(reverse("edit_shot", args=[shot.pk]), again).status_code == 302
    shot.refresh_from_db()
    assert shot.prompt == "Grand hall"


def test_a_shot_form_opened_before_its_keyframe_was_set_is_stale(alice, shot, references):
    Sequence.objects.filter(pk=shot.sequence_id).update(reference_set=references)
    client = logged_in(alice)
    form = shot_form(client, shot)
    image = references.images.first()
    services.set_keyframe(
        shot, slot="first", model="gen4_image", prompt="@hall", references=[(image, "hall")]
    )

    response = client.post(reverse("edit_shot", args=[shot.pk]), {**form, "prompt": "Grand hall"})

    assert response.status_code == 409
    shot.refresh_from_db()
    assert (shot.first_frame, shot.prompt) == (Shot.FirstFrame.KEYFRAME, "Hall")
    assert "An image made from reference images" in response.text


def test_a_take_chosen_while_a_shot_is_saved_stays_chosen(alice, shot):
    """Choosing a take writes the shot's chosen take; a save of the shot's form must not put back
    the one it loaded."""
    client = logged_in(alice)
    form = shot_form(client, shot)
    take = Take.objects.create(shot=shot, user=alice, status="succeeded")

    with written_just_before_the_view_writes(Shot, shot.pk, chosen_take_id=take.pk):
        response = client.post(reverse("edit_shot", args=[shot.pk]), {**form, "prompt": "Grand hall"})

    assert response.status_code == 302
    shot.refresh_from_db()
    assert (shot.prompt, shot.chosen_take_id) == ("Grand hall", take.pk)


# --- sequence settings -----------------------------------------------------------------------------


def settings_form(client: Client, sequence: Sequence) -> dict[str, str]:
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    return form_on(page, reverse("edit_sequence", args=[sequence.pk]))


def test_a_stale_settings_form_is_refused_and_keeps_what_was_typed(alice, carol_edits, sequence):
    owner, editor = logged_in(alice), logged_in(carol_edits)
    owners_form, editors_form = settings_form(owner, sequence), settings_form(editor, sequence)
    url = reverse("edit_sequence", args=[sequence.pk])

    assert editor.post(url, {**editors_form, "title": "Tour of the house"}).status_code == 302
    response = owner.post(url, {**owners_form, "title": "Tour", "ratio": "720:1280"})

    assert response.status_code == 409
    sequence.refresh_from_db()
    assert (sequence.title, sequence.ratio) == ("Tour of the house", "1280:720")
    assert "<td>Tour</td><td>Tour of the house</td>" in response.text
    again = form_on(response.text, url)
    assert again["ratio"] == "720:1280"
    assert owner.post(url, again).status_code == 302
    sequence.refresh_from_db()
    assert (sequence.title, sequence.ratio) == ("Tour", "720:1280")


def test_a_narration_saved_meanwhile_does_not_make_the_settings_stale(alice, sequence):
    client = logged_in(alice)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    settings = form_on(page, reverse("edit_sequence", args=[sequence.pk]))
    narration = form_on(page, reverse("save_narration", args=[sequence.pk]))

    client.post(reverse("save_narration", args=[sequence.pk]), {**narration, "narration_script": "Welcome."})
    response = client.post(reverse("edit_sequence", args=[sequence.pk]), {**settings, "title": "Tour v2"})

    assert response.status_code == 302
    sequence.refresh_from_db()
    assert (sequence.title, sequence.narration_script) == ("Tour v2", "Welcome.")


def test_a_script_saved_while_the_settings_are_saved_stays(alice, sequence):
    client = logged_in(alice)
    form = settings_form(client, sequence)

    with written_just_before_the_view_writes(Sequence, sequence.pk, narration_script="Welcome."):
        response = client.post(reverse("edit_sequence", args=[sequence.pk]), {**form, "title": "Tour v2"})

    assert response.status_code == 302
    sequence.refresh_from_db()
    assert (sequence.title, sequence.narration_script) == ("Tour v2", "Welcome.")


# --- the narration while the film is assembled ------------------------------------------------------


def narration_form(client: Client, sequence: Sequence) -> dict[str, str]:
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    return form_on(page, reverse("save_narration", args=[sequence.pk]))


PIPELINE_WRITE = {
    "status": Sequence.Status.ASSEMBLING,
    "film": "films/1/film.mp4",
    "status_message": "Joining",
}


def test_saving_the_script_while_the_film_assembles_is_no_conflict(alice, sequence):
    client = logged_in(alice)
    form = narration_form(client, sequence)
    Sequence.objects.filter(pk=sequence.pk).update(**PIPELINE_WRITE)

    response = client.post(
        reverse("save_narration", args=[sequence.pk]), {**form, "narration_script": "Hello."}
    )

    assert response.status_code == 302
    sequence.refresh_from_db()
    assert (sequence.narration_script, sequence.status, sequence.film.name, sequence.status_message) == (
        "Hello.",
        "assembling",
        "films/1/film.mp4",
        "Joining",
    )


def test_the_pipelines_write_during_the_save_of_a_script_stays(alice, sequence):
    """The pipeline writes the row after the view has loaded it and before the view writes: a save
    of the whole loaded row would put the sequence back to draft, without its film."""
    client = logged_in(alice)
    form = narration_form(client, sequence)

    with written_just_before_the_view_writes(Sequence, sequence.pk, **PIPELINE_WRITE):
        response = client.post(
            reverse("save_narration", args=[sequence.pk]), {**form, "narration_script": "Hello."}
        )

    assert response.status_code == 302
    sequence.refresh_from_db()
    assert (sequence.narration_script, sequence.status, sequence.film.name) == (
        "Hello.",
        "assembling",
        "films/1/film.mp4",
    )


def test_a_stale_script_is_refused_and_kept(alice, carol_edits, sequence):
    owner, editor = logged_in(alice), logged_in(carol_edits)
    owners_form, editors_form = narration_form(owner, sequence), narration_form(editor, sequence)
    url = reverse("save_narration", args=[sequence.pk])

    assert editor.post(url, {**editors_form, "narration_script": "Welcome home."}).status_code == 302
    response = owner.post(url, {**owners_form, "narration_script": "Welcome to the house."})

    assert response.status_code == 409
    sequence.refresh_from_db()
    assert sequence.narration_script == "Welcome home."
    assert "<td>(empty)</td><td>Welcome home.</td>" in response.text
    again = form_on(response.text, url)
    assert again["narration_script"] == "Welcome to the house."
    assert owner.post(url, again).status_code == 302
    sequence.refresh_from_db()
    assert sequence.narration_script == "Welcome to the house."


def test_the_settings_saved_meanwhile_do_not_make_the_script_stale(alice, sequence):
    client = logged_in(alice)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    settings = form_on(page, reverse("edit_sequence", args=[sequence.pk]))
    narration = form_on(page, reverse("save_narration", args=[sequence.pk]))

    client.post(reverse("edit_sequence", args=[sequence.pk]), {**settings, "title": "Tour v2"})
    response = client.post(
        reverse("save_narration", args=[sequence.pk]), {**narration, "narration_script": "Hi."}
    )

    assert response.status_code == 302
    sequence.refresh_from_db()
    assert (sequence.title, sequence.narration_script) == ("Tour v2", "Hi.")


# --- keyframes -------------------------------------------------------------------------------------


@pytest.fixture
def keyframe_shot(shot, references):
    Sequence.objects.filter(pk=shot.sequence_id).update(reference_set=references)
    return shot


def keyframe_form(client: Client, shot: Shot) -> dict[str, str]:
    # The keyframe form posts to its own page: it has no action.
    return form_on(client.get(reverse("edit_keyframe", args=[shot.pk, "first"])).text, None)


def with_images(form: dict, references, prompt: str) -> dict:
    images = list(references.images.order_by("position", "pk"))
    return {**form, f"use_{images[0].pk}": "on", "prompt": prompt}


def test_a_stale_keyframe_form_is_refused_and_keeps_what_was_typed(
    alice, carol_edits, keyframe_shot, references
):
    image = references.images.order_by("position", "pk").first()
    services.set_keyframe(
        keyframe_shot,
        slot="first",
        model="gen4_image",
        prompt="@room0 at dawn",
        references=[(image, "room0")],
    )
    owner, editor = logged_in(alice), logged_in(carol_edits)
    owners_form, editors_form = keyframe_form(owner, keyframe_shot), keyframe_form(editor, keyframe_shot)
    url = reverse("edit_keyframe", args=[keyframe_shot.pk, "first"])

    assert editor.post(url, {**editors_form, "prompt": "@room0 at dusk"}).status_code == 302
    response = owner.post(url, {**owners_form, "model": "gen4_image_turbo"})

    assert response.status_code == 409
    keyframe = Keyframe.objects.get(shot=keyframe_shot)
    assert (keyframe.prompt, keyframe.model) == ("@room0 at dusk", "gen4_image")
    assert "<td>@room0 at dawn</td><td>@room0 at dusk</td>" in response.text
    again = form_on(response.text, None)
    assert (again["prompt"], again["model"]) == ("@room0 at dawn", "gen4_image_turbo")
    assert owner.post(url, again).status_code == 302
    keyframe.refresh_from_db()
    assert (keyframe.prompt, keyframe.model) == ("@room0 at dawn", "gen4_image_turbo")


def test_a_keyframe_made_by_someone_else_meanwhile_is_not_overwritten(
    alice, carol_edits, keyframe_shot, references
):
    owner, editor = logged_in(alice), logged_in(carol_edits)
    owners_form, editors_form = keyframe_form(owner, keyframe_shot), keyframe_form(editor, keyframe_shot)
    url = reverse("edit_keyframe", args=[keyframe_shot.pk, "first"])

    assert editor.post(url, with_images(editors_form, references, "@room0 by the editor")).status_code == 302
    response = owner.post(url, with_images(owners_form, references, "@room0 by the owner"))

    assert response.status_code == 409
    assert Keyframe.objects.get(shot=keyframe_shot).prompt == "@room0 by the editor"
    assert "@room0 by the owner" in response.text


def _save_at_once(clients: dict[str, Client], forms: dict[str, dict], shot: Shot, prompts: dict) -> dict:
    """Each client posts its form with its prompt, all released at once; the status of each."""
    gate = threading.Barrier(len(clients))
    statuses: dict[str, int] = {}

    def save(name: str) -> None:
        try:
            gate.wait()
            url = reverse("edit_shot", args=[shot.pk])
            statuses[name] = clients[name].post(url, {**forms[name], "prompt": prompts[name]}).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(name,)) for name in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.django_db(transaction=True)
def test_two_saves_of_one_version_at_once_let_exactly_one_through(alice, carol_edits, shot):
    """Both members press Save on forms of the same version at the same moment, many times: one
    save lands, the other is refused, and the shot holds the words of the one that landed."""
    for round_number in range(10):
        clients = {"alice": logged_in(alice), "carol": logged_in(carol_edits)}
        forms = {name: shot_form(client, shot) for name, client in clients.items()}
        prompts = {name: f"{name} {round_number}" for name in clients}

        statuses = _save_at_once(clients, forms, shot, prompts)

        assert sorted(statuses.values()) == [302, 409], f"round {round_number}: {statuses}"
        winner = next(name for name, status in statuses.items() if status == 302)
        shot.refresh_from_db()
        assert shot.prompt == prompts[winner]
