"""``flask content stats``: goals, audio minutes, pictures with alt text and LIX per module."""

from __future__ import annotations

import pytest

from webapp.content.services import load_catalogue
from webapp.content.stats import lix, programme_stats


@pytest.mark.parametrize("text, expected", [
    # 6 words, 2 sentences, 1 word longer than six letters: 3 + 100/6.
    ("<p>Jag har ont. Smärtan sitter kvar.</p>", 3 + 100 / 6),
    # Paragraphs and list items end sentences even without a full stop.
    ("<p>Två korta ord</p><ul><li>ett</li><li>två</li></ul>", 5 / 3 + 0),
    ("<h1>Rubrik</h1>", 1.0),
])
def test_lix_counts_words_sentences_and_long_words(text, expected):
    assert lix(text) == pytest.approx(expected)


def test_lix_of_a_text_without_words_is_none():
    assert lix("<p>12 – 34</p>") is None


def test_pain_school_figures():
    catalogue = load_catalogue()
    figures = programme_stats(catalogue, catalogue.programmes["pain-school"])
    assert all(m.has_goal for m in figures.modules) and len(figures.modules) == 10
    # The relaxation and mindfulness exercises alone are about 26 minutes in each of sv and en.
    assert figures.audio_seconds["sv"] > 26 * 60 and figures.audio_seconds["en"] > 26 * 60
    with_alt, pictures = figures.pictures
    assert pictures >= 3 and with_alt == pictures
    # Plain Swedish: every module's LIX within the range the texts aim at.
    assert all(20 - 2 <= m.lix <= 30 for m in figures.modules), [(m.module_id, round(m.lix)) for m in figures.modules]


def test_stats_command_prints_a_line_per_programme(app):
    result = app.test_cli_runner().invoke(args=["content", "stats"])
    assert result.exit_code == 0, result.output
    assert "pain-school: 10/10 modules with goal and key points" in result.output
    assert "  work: goal yes, LIX " in result.output
