"""Figures about a programme's content: goals stated, audio minutes, pictures, readability (LIX).

Used by ``flask content stats``. LIX (läsbarhetsindex) = words per sentence +
the percentage of words longer than six letters; plain Swedish patient texts
aim at about 20–30. It is counted on the page text a patient reads (headings,
paragraphs, list items, the text of blocks), not on the front matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from webapp.content.services import Catalogue, Programme

_TAG = re.compile(r"<[^>]+>")
# A sentence ends at . ! ? or :, and every paragraph, heading or list item ends one too.
_BOUNDARY = re.compile(r"</(?:p|li|h[1-6])>|[.!?:]+(?=\s|$)")
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")


def lix(text: str) -> float | None:
    """The LIX of a text (None for a text without words)."""
    sentences = [s for s in _BOUNDARY.split(text) if s and _WORD.search(_TAG.sub(" ", s))]
    words = _WORD.findall(_TAG.sub(" ", text))
    if not words:
        return None
    long_words = sum(1 for word in words if len(word) > 6)
    return len(words) / max(len(sentences), 1) + 100 * long_words / len(words)


def _segment_html(segment) -> str:
    items = "".join(f"<li>{item}</li>" for item in segment.items)
    return f"{segment.html}{items}"


@dataclass
class ModuleStats:
    module_id: str
    has_goal: bool
    lix: float | None


@dataclass
class ProgrammeStats:
    programme_id: str
    modules: list[ModuleStats] = field(default_factory=list)
    # Seconds of audio the modules use, per language (each recording counted once).
    audio_seconds: dict[str, int] = field(default_factory=dict)
    # (pictures with alt text, pictures) over every language version.
    pictures: tuple[int, int] = (0, 0)


def programme_stats(catalogue: Catalogue, programme: Programme) -> ProgrammeStats:
    """The figures of one programme; LIX for the default language."""
    stats = ProgrammeStats(programme.id)
    audio: dict[str, set[str]] = {}
    with_alt = pictures = 0
    for module in programme.modules:
        default = module.versions.get(programme.default_language)
        if default is None:
            continue
        html = "".join(f"<h1>{page.title}</h1>" + "".join(_segment_html(s) for s in page.segments if s.kind != "summary")
                       for page in default.pages)
        stats.modules.append(ModuleStats(module.id, default.has_goal, lix(html)))
        for lang, version in module.versions.items():
            ids = {s.id for page in version.pages for s in page.segments if s.kind == "audio"}
            if version.listen:
                ids.add(version.listen)
            audio.setdefault(lang, set()).update(ids)
            for segment in (s for page in version.pages for s in page.segments if s.kind == "image"):
                pictures += 1
                with_alt += bool(segment.text.strip())
    for lang, ids in audio.items():
        total = 0
        for media_id in ids:
            item = catalogue.media.get(media_id)
            file = item.files.get(lang) if item else None
            total += (file.seconds or 0) if file else 0
        stats.audio_seconds[lang] = total
    stats.pictures = (with_alt, pictures)
    return stats
