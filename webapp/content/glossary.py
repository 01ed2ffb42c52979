"""The glossary editors keep per language, and the check that translations use it.

``content/glossary/<lang>.yaml`` lists key terms: the words of the source
language (the programme's default, Swedish) and the agreed term in ``<lang>``,
with other accepted forms of it (inflections, the form without the article)::

    terms:
      - sv: [långvarig smärta, långvariga smärtan]
        en: long-term pain
        term: الألم المزمن
        also: [ألم مزمن]

The rule, kept simple so an editor can predict it: a module is split into its
sections (the ``##`` headings that make its pages). Where a section of the
source file contains one of the ``sv`` words, the same section of the
translation must contain the agreed term or one of ``also``. Matching ignores
case, Arabic short vowels and tatweel, zero-width non-joiners and the Arabic and
Persian spellings of ye and kaf. If the two files have a different number of
sections, the whole file is compared instead. A miss is a warning (the
translation stays published) on the translation's section heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from webapp.content.parser import (
    Problem,
    load_yaml,
    problem_from_exception,
    read_content_text,
    split_front_matter,
    typed,
)

# Arabic short vowels, shadda, sukun, superscript alef; tatweel; zero-width (non-)joiners and marks.
_IGNORED = re.compile("[\u064b-\u065f\u0670\u0640\u200c\u200d\u200e\u200f]")
_SPELLINGS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "أ": "ا", "إ": "ا", "آ": "ا"})


def normalise(text: str) -> str:
    """Text as the glossary check compares it (see the module docstring)."""
    return re.sub(r"\s+", " ", _IGNORED.sub("", text).translate(_SPELLINGS).casefold())


@dataclass
class Term:
    source: dict[str, tuple[str, ...]]  # language -> the words of the key term in that language
    term: str
    also: tuple[str, ...] = ()
    line: int = 1

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.term, *self.also)


@dataclass
class Glossary:
    lang: str
    path: str
    terms: list[Term] = field(default_factory=list)


def _words(value, name: str, line: int) -> tuple[str, ...]:
    value = typed(value, (str, list), name, line=line, default=[],
                  fix="write the words after the colon, or a list: [form one, form two]")
    values = [value] if isinstance(value, str) else value
    return tuple(str(typed(v, (str, float), name, line=line, must="a text")).strip() for v in values if v is not None)


def load_glossary(path: Path, rel: str, problems: list[Problem]) -> Glossary | None:
    """One glossary file; a damaged entry is a problem on its line and is left out."""
    text = read_content_text(path)
    data = typed(load_yaml(text), dict, "the file", default={},
                 fix="start the file with 'terms:' and one '- sv: …' entry per term")
    glossary = Glossary(lang=path.stem, path=rel)
    lines = text.split("\n")
    entry_lines = [n for n, line in enumerate(lines, 1) if line.lstrip().startswith("- ")]
    for index, entry in enumerate(typed(data.get("terms"), list, "terms", default=[],
                                        fix="write one '- sv: …' entry per term below 'terms:'")):
        line = entry_lines[index] if index < len(entry_lines) else 1
        entry = typed(entry, dict, "every entry under terms", line=line, default={},
                      fix="write e.g. '- sv: långvarig smärta' with 'term: …' below it")
        term = entry.get("term")
        if not isinstance(term, str) or not term.strip():
            problems.append(Problem(rel, line, "the entry has no 'term' (the word agreed for this language)",
                                    "add a line 'term: …' to the entry"))
            continue
        source = {str(k): _words(v, str(k), line) for k, v in entry.items() if k not in ("term", "also")}
        glossary.terms.append(Term(source=source, term=term.strip(), also=_words(entry.get("also"), "also", line),
                                   line=line))
    return glossary


def load_glossaries(root: Path, rel_of, problems: list[Problem]) -> dict[str, Glossary]:
    """Every ``<root>/<lang>.yaml``; each file on its own (a damaged one is a problem on it)."""
    result: dict[str, Glossary] = {}
    for path in sorted(root.glob("*.yaml")) if root.is_dir() else []:
        try:
            glossary = load_glossary(path, rel_of(path), problems)
        except Exception as exc:  # the last-resort net: a damaged glossary only loses its own check
            problems.append(problem_from_exception(rel_of(path), exc))
            continue
        if glossary is not None:
            result[glossary.lang] = glossary
    return result


def sections(text: str) -> list[tuple[int, str]]:
    """(line of the heading, text) of each ``##`` section after the front matter; the part before the first too."""
    _front, body, offset = split_front_matter(text)
    result: list[tuple[int, list[str]]] = [(offset + 1, [])]
    for number, line in enumerate(body.split("\n"), start=offset + 1):
        if line.startswith("## "):
            result.append((number, []))
        result[-1][1].append(line)
    return [(line, "\n".join(part)) for line, part in result]


def check_terms(glossary: Glossary, source_lang: str, source_text: str, source_path: str,
                text: str, path: str) -> list[Problem]:
    """Warnings for each section where the source uses a key term and the translation lacks the agreed term."""
    source, target = sections(source_text), sections(text)
    if len(source) != len(target):
        source, target = [(1, source_text)], [(1, text)]
    problems = []
    for (source_line, source_part), (line, part) in zip(source, target, strict=True):
        source_norm, part_norm = normalise(source_part), normalise(part)
        for term in glossary.terms:
            used = next((w for w in term.source.get(source_lang, ()) if w and normalise(w) in source_norm), None)
            if used and not any(normalise(form) in part_norm for form in term.forms):
                problems.append(Problem(
                    path, line,
                    f"the glossary term '{term.term}' is not used here, but {source_path} uses '{used}' "
                    f"in the same section (line {source_line})",
                    f"use '{term.term}' ({glossary.path}:{term.line}), or add the form you used under 'also'",
                    severity="warning"))
    return problems
