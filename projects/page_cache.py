"""The heavy parts of the sequence and share pages, kept rendered under a digest of the rows they are made from.

The shot list (with the keyframe plan and the estimate of every shot), the takes of the generation
panel, the film versions with their feedback and the narration and master section are the longest
part of the sequence page, and most views of a sequence find it as it was a moment ago.
`sequence_digest` reads every row those parts depend on (the sequence; its shots, their takes,
keyframes and keyframe references; the images of its reference set; its own takes, film versions,
comments (replies too) and decisions, and the names of who sent each version), all columns of each, as the database gives them: no model instances, no
estimate. Any change to any of them makes a new digest, so a kept rendering is never out of date;
it is a pure function of those rows, the viewer's right to edit, and the code (the key carries
`VERSION`, and entries expire after `SEQUENCE_PAGE_CACHE_SECONDS` so a deploy with a shared cache
does not serve old markup for long). What depends on the viewer or the moment (the credit meter,
messages, CSRF tokens, share links, the open forms) is never kept.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import cache as cache_in_process

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, models
from django.db.models import ExpressionWrapper, Q
from django.db.models.functions import Now
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from generation import finishing
from generation.models import LedgerEntry, ModelPrice, Take
from projects.models import (
    FilmVersion,
    Keyframe,
    KeyframeReference,
    Project,
    ReferenceImage,
    ReferenceSet,
    ReviewComment,
    ReviewDecision,
    Sequence,
    ShareLink,
    Shot,
    StoryboardApproval,
    StoryboardComment,
)

VERSION = 2
USER_COLUMNS = ["id", "username", "first_name", "last_name"]


def _columns(model: type[models.Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


@cache_in_process
def _reads() -> tuple[tuple[type[models.Model], str, str | None], ...]:
    """The SQL of each read of the digest (all columns, by pk, of the rows of one sequence), compiled
    once per process, and which of the sequence's values it takes as its one parameter (None: no
    parameter)."""
    reads = []
    for queryset, parameter in (
        (Shot.objects.filter(sequence_id=0), "pk"),
        # Every take of the sequence: its shots' clips and keyframe images, its narrations and master parts.
        (Take.objects.filter(sequence_id=0), "pk"),
        # What the ledger says of them (the page's charges).
        (LedgerEntry.objects.filter(take__sequence_id=0), "pk"),
        (Keyframe.objects.filter(shot__sequence_id=0), "pk"),
        (KeyframeReference.objects.filter(keyframe__shot__sequence_id=0), "pk"),
        (ReferenceImage.objects.filter(reference_set_id=0), "reference_set_id"),
        # Its project (name, approval rule) and the project's reference sets (the settings' choices).
        (Project.objects.filter(pk=0), "project_id"),
        (ReferenceSet.objects.filter(project_id=0), "project_id"),
        # Its film versions and their feedback.
        (FilmVersion.objects.filter(sequence_id=0), "pk"),
        (ReviewComment.objects.filter(version__sequence_id=0), "pk"),
        (ReviewDecision.objects.filter(version__sequence_id=0), "pk"),
        # Its share links, with whether each has expired by now (the database's clock), and the
        # client's review of its storyboard.
        (
            ShareLink.objects.filter(sequence_id=0).annotate(
                expired=ExpressionWrapper(Q(expires_at__lte=Now()), output_field=models.BooleanField())
            ),
            "pk",
        ),
        (StoryboardComment.objects.filter(sequence_id=0), "pk"),
        (StoryboardApproval.objects.filter(sequence_id=0), "pk"),
        # The admins' price corrections, which every estimate on the page uses.
        (ModelPrice.objects.all(), None),
        # The names the versions section shows for who sent each version (names only: a login
        # changes the user's row, not the page).
        (
            get_user_model().objects.filter(
                pk__in=FilmVersion.objects.filter(sequence_id=0).values("sent_by_id")
            ),
            "pk",
        ),
    ):
        columns = _columns(queryset.model) if queryset.model is not get_user_model() else USER_COLUMNS
        columns += list(queryset.query.annotations)
        sql, params = queryset.order_by("pk").values_list(*columns).query.sql_with_params()
        if params != ((0,) if parameter else ()):
            raise RuntimeError(f"{queryset.model.__name__}: expected one parameter, got {params}")
        reads.append((queryset.model, sql, parameter))
    return tuple(reads)


@cache_in_process
def _films_sql() -> str:
    """The pk and film of each version of a sequence (one parameter: the sequence's pk)."""
    sql, params = (
        FilmVersion.objects.filter(sequence_id=0)
        .order_by("pk")
        .values_list("id", "film")
        .query.sql_with_params()
    )
    if params != (0,):
        raise RuntimeError(f"FilmVersion: expected one parameter, got {params}")
    return sql


@cache_in_process
def _one_statement() -> str:
    """PostgreSQL: every read of the digest in one statement, each read's rows hashed by the database
    (md5 of the rows as text, in pk order), and the versions' films, so that a view costs one round
    trip, not one per read. The SQL pieces are the ORM's own compiled reads (no user input)."""
    hashes = "".join(
        f"(SELECT md5(COALESCE(string_agg(CAST(r AS text), '|' ORDER BY r.id), '')) FROM ({sql}) AS r), "  # noqa: S608
        for _model, sql, _parameter in _reads()
    )
    films = f"(SELECT COALESCE(json_agg(json_build_array(v.id, v.film) ORDER BY v.id), '[]') FROM ({_films_sql()}) AS v)"  # noqa: S608
    return f"SELECT {hashes}{films}"


def sequence_digest(sequence: Sequence) -> str:
    """A digest of every row the sequence page is made from (`_reads`).

    The rows are read as the database gives them (no model instances, no conversions), by SQL
    compiled once per process: the digest costs one statement on PostgreSQL (a few small reads on
    other databases), not an estimate."""
    digest = hashlib.sha256(repr([getattr(sequence, name) for name in _columns(Sequence)]).encode())
    reads = _reads()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            parameters = [getattr(sequence, parameter) for _model, _sql, parameter in reads if parameter]
            cursor.execute(_one_statement(), [*parameters, sequence.pk])
            *hashes, films = cursor.fetchone()
            digest.update(repr(hashes).encode())
        else:
            for _model, sql, parameter in reads:
                cursor.execute(sql, [getattr(sequence, parameter)] if parameter else [])
                digest.update(repr(cursor.fetchall()).encode())
            cursor.execute(_films_sql(), [sequence.pk])
            films = cursor.fetchall()
    if films:
        # The master's price on the page is exact once a version's film has been measured
        # (`finishing.film_facts` keeps what it read in the cache): that counts too.
        keys = sorted(finishing.film_facts_key(pk, film) for pk, film in films)
        digest.update(repr(sorted(cache.get_many(keys))).encode())
    return digest.hexdigest()


def kept(key_parts: tuple, make: Callable[[], dict]) -> dict:
    """`make()`'s result for these key parts: kept from an earlier call, or made now and kept."""
    seconds = settings.SEQUENCE_PAGE_CACHE_SECONDS
    if not seconds:
        return make()
    key = "sequence-page:" + hashlib.sha256(repr((VERSION, *key_parts)).encode()).hexdigest()
    value = cache.get(key)
    if value is None:
        value = make()
        # A CSRF token belongs to one visitor's session: markup holding one is never kept.
        if not any(isinstance(part, str) and "csrfmiddlewaretoken" in part for part in value.values()):
            cache.set(key, value, seconds)
    return value


def kept_markup(key_parts: tuple, template: str, context: dict, *, request, token: str = "") -> SafeString:
    """`template` rendered with `context`, kept under `key_parts`, which must name everything the
    markup is made from (the rows, as read, and every switch the template reads). Forms in it get this
    visitor's CSRF token, and links this share link's `token`, put in on the way out: the kept markup
    holds neither. Each rendering stands random marks in for them (kept with it), so that no text a
    visitor types can pass for a mark."""

    def make() -> dict:
        csrf_mark, token_mark = secrets.token_hex(16), secrets.token_hex(16)
        values = {
            name: value.replace(token, token_mark) if token and isinstance(value, str) else value
            for name, value in context.items()
        }
        values["csrf_token"] = csrf_mark
        if token:
            values["token"] = token_mark
        return {"html": render_to_string(template, values), "csrf": csrf_mark, "token": token_mark}

    seconds = settings.SEQUENCE_PAGE_CACHE_SECONDS
    if seconds:
        key = "kept-markup:" + hashlib.sha256(repr((VERSION, template, *key_parts)).encode()).hexdigest()
        value = cache.get(key)
        if value is None:
            value = make()
            cache.set(key, value, seconds)
    else:
        value = make()
    html = value["html"].replace(value["csrf"], get_token(request))
    if token:
        html = html.replace(value["token"], token)
    return mark_safe(html)  # noqa: S308 (markup rendered by a template, with only the marks replaced)
