"""Template filters: the remembered "time ago" words are Babel's own, for every delta and language."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from babel.dates import format_timedelta
from flask import url_for
from flask_babel import force_locale, get_locale
from markupsafe import Markup

from webapp.core import templating
from webapp.core.templating import isolate, timeago
from webapp.core.urls import url_for_ids

LOCALES = ["sv", "en", "ar", "fa"]


def _deltas():
    """Seconds around every unit's edges (the 0.85 threshold, rounding at .5) and at random."""
    edges = [0, 1, 29, 30, 31, 50, 51, 59, 60, 61, 89, 90, 91]
    for unit in (60, 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400):
        for factor in (0.5, 0.84, 0.85, 0.86, 1, 1.49, 1.5, 1.51, 2.5, 3.5, 10.5, 11.5, 23.5, 29.5):
            edges += [int(unit * factor) + d for d in (-1, 0, 1)]
    rng = random.Random(25)
    edges += [rng.randrange(0, 40 * 365 * 86400) for _ in range(3000)]
    edges += [rng.randrange(0, 2 * 86400) for _ in range(1000)]
    return sorted({s for e in edges for s in (e, -e)})


@pytest.mark.parametrize("locale", LOCALES)
def test_timeago_words_are_babels_for_every_delta(app, monkeypatch, locale):
    now = templating.utcnow()
    monkeypatch.setattr(templating, "utcnow", lambda: now)
    templating._timeago_words.clear()
    with app.test_request_context(), force_locale(locale):
        for seconds in _deltas():
            expected = format_timedelta(timedelta(seconds=seconds), "minute", add_direction=True, locale=get_locale())
            assert timeago(now + timedelta(seconds=seconds)) == expected, (locale, seconds)
            # Sub-second parts are dropped by Babel too.
            assert timeago(now + timedelta(seconds=seconds, microseconds=700_000)) == format_timedelta(
                timedelta(seconds=seconds, microseconds=700_000), "minute", add_direction=True, locale=get_locale())
    # A handful of words per language, not one per delta.
    assert len(templating._timeago_words) < 400


def test_timeago_follows_the_language_within_one_request(app):
    moment = templating.utcnow() - timedelta(days=9, hours=2)
    with app.test_request_context():
        with force_locale("en"):
            english = timeago(moment)
        with force_locale("sv"):
            swedish = timeago(moment)
    assert english == "1 week ago"
    assert swedish == "för 1 vecka sedan"
    assert timeago(None) == ""


def test_isolate_escapes_like_markup():
    assert isolate("<b>Åsa & Ali</b>") == Markup("<bdi>%s</bdi>") % "<b>Åsa & Ali</b>"
    assert isolate(Markup("<i>x</i>")) == Markup("<bdi><i>x</i></bdi>")
    assert isolate(None) == Markup("<bdi></bdi>")
    assert isolate(42) == Markup("<bdi>42</bdi>")
    assert isinstance(isolate("a"), Markup)


def test_url_for_ids_builds_what_url_for_builds(app):
    with app.test_request_context():
        href = url_for_ids("clinician.enrolment", "enrolment_id")
        thread = url_for_ids("messages.staff_thread", "enrolment_id")
        for n in (0, 1, 7, 10, 99, 12345, 2**40):
            assert href(n) == url_for("clinician.enrolment", enrolment_id=n)
            assert thread(n) == url_for("messages.staff_thread", enrolment_id=n)
            assert url_for_ids("clinician.caseload", "page", scope="mine")(n) == url_for(
                "clinician.caseload", page=n, scope="mine")
