"""Questionnaire definitions (content/forms/*.yaml): read and checked once, without an app.

A definition is data: items of a few known types, a scoring rule (sum or mean,
reverse-scored items, subscales, how many answers may be missing), severity
bands, the change that counts as meaningful, and safety rules that alert the
clinician. Like programme content it is read and checked once, and every
problem names its file and line. Scoring is ``webapp.questionnaires.scoring``;
sending and answering, ``webapp.questionnaires.services``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import yaml

from webapp.config import PROJECT_ROOT
from webapp.content.parser import (
    ContentValueError,
    Problem,
    is_kind,
    problem_from_exception,
    read_content_text,
    text_map,
    typed,
)
from webapp.core.languages import Text, base_language, choose

ITEM_ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# An item's id is the name of its field in the answer form (webapp.questionnaires.forms),
# so it cannot be one of that form's own names; a test keeps this list complete.
RESERVED_ITEM_IDS = frozenset({
    "action", "answers", "csrf_token", "data", "errors", "hidden_tag", "is_final", "is_submitted", "items",
    "meta", "populate_obj", "post_process", "process", "validate", "validate_on_submit"})


ITEM_TYPES = {"single_choice", "scale", "vas", "number", "text", "info"}


SCORED_TYPES = {"single_choice", "scale", "vas", "number"}


LICENCES = {"free", "licence-required"}


METHODS = {"sum", "mean"}


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping, so problems can point at it."""
    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


@dataclass(frozen=True)
class Option:
    value: int
    labels: dict
    line: int = 1

    def label(self, lang: str) -> Text:
        return choose(self.labels, lang, default=str(self.value))


@dataclass(frozen=True)
class Version:
    """One language version of a questionnaire and where its wording comes from.

    ``validated`` is true only when the text reproduces a published, validated
    translation (``source`` names it); otherwise ``source`` says whose wording it is.
    """
    lang: str
    source: str
    validated: bool
    line: int = 1


@dataclass(frozen=True)
class Item:
    id: str
    type: str
    texts: dict
    required: bool
    options: tuple[Option, ...] = ()
    min: int | None = None
    max: int | None = None
    reverse: bool = False
    min_labels: dict = field(default_factory=dict)
    max_labels: dict = field(default_factory=dict)
    line: int = 1

    def text(self, locale: str) -> Text:
        """The item's text in ``locale`` (or another language, which the ``Text`` names)."""
        return choose(self.texts, locale)

    def min_label(self, locale: str) -> Text:
        return choose(self.min_labels, locale)

    def max_label(self, locale: str) -> Text:
        return choose(self.max_labels, locale)

    @property
    def low(self) -> int:
        return min(o.value for o in self.options) if self.options else (self.min or 0)

    @property
    def high(self) -> int:
        return max(o.value for o in self.options) if self.options else (self.max or 0)


@dataclass(frozen=True)
class Band:
    min: float
    max: float
    labels: dict


@dataclass(frozen=True)
class Scale:
    """What is scored: the whole form or one subscale."""
    items: tuple[str, ...]
    method: str
    bands: tuple[Band, ...]
    range: tuple[float, float] | None


@dataclass(frozen=True)
class ReliableChange:
    """A published rule for a change bigger than measurement error (a reliable change)."""
    points: float
    source: str


@dataclass(frozen=True)
class SafetyRule:
    item: str
    min: int


@dataclass(frozen=True)
class Reading:
    """The version a reader gets: ``lang`` (``wanted`` is theirs). ``is_fallback``: shown in another
    language than theirs; ``is_unvalidated``: a validated instrument in a version that is not."""
    lang: str
    wanted: str
    version: Version | None
    is_fallback: bool
    is_unvalidated: bool

    @property
    def needs_note(self) -> bool:
        return self.is_fallback or self.is_unvalidated


@dataclass
class Questionnaire:
    id: str
    licence: str
    titles: dict
    recalls: dict
    items: list[Item]
    total: Scale | None
    subscales: dict[str, Scale]
    max_missing: int
    meaningful_change: float | None
    safety: list[SafetyRule]
    path: str
    # Which way is improvement ("lower" scores, as in PHQ-9, or "higher").
    better: str = "lower"
    # The patient sees their own scores over time after answering.
    show_results: bool = False
    # A published reliable-change rule, with its source (scoring.reliable_change).
    reliable_change: ReliableChange | None = None
    # The language versions of the wording, each with its source (see Version).
    versions: dict[str, Version] = field(default_factory=dict)
    # The version shown when the reader's language has none (the care's own language).
    default_language: str = "sv"
    # Where the instrument comes from (the publication, or "Lotsa's own question").
    source: str = ""

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    def title(self, locale: str) -> Text:
        return choose(self.titles, locale, (self.default_language,), default=self.id)

    def recall(self, lang: str) -> Text:
        return choose(self.recalls, lang, (self.default_language,))

    def language_for(self, locale: str) -> str:
        """The language of the version a reader of ``locale`` is shown: their own if it exists,
        else the default language's, else any. Scoring never depends on it (items are scored by id)."""
        locale = base_language(locale)
        if locale in self.versions:
            return locale
        if self.default_language in self.versions or not self.versions:
            return self.default_language
        return next(iter(self.versions))

    def version(self, lang: str) -> Version | None:
        return self.versions.get(lang)

    @property
    def is_validated_instrument(self) -> bool:
        """At least one version reproduces a published, validated text."""
        return any(v.validated for v in self.versions.values())

    def reading(self, locale: str) -> Reading:
        """What a reader of ``locale`` is shown, and what they (and the sender) must be told about it."""
        wanted = base_language(locale)
        lang = self.language_for(wanted)
        version = self.versions.get(lang)
        return Reading(
            lang=lang, wanted=wanted, version=version, is_fallback=lang != wanted,
            is_unvalidated=self.is_validated_instrument and version is not None and not version.validated)


    @property
    def has_text(self) -> bool:
        """A licence-required skeleton has no item texts until a unit adds them."""
        return all(i.texts for i in self.items if i.type != "info")


def load_questionnaires(root: Path) -> tuple[dict[str, Questionnaire], list[Problem]]:
    """Read every content/forms/*.yaml; broken definitions are reported and left out.

    Each file is loaded on its own: anything that goes wrong in one (not UTF-8,
    broken YAML, a value of the wrong kind, a bug) is a problem on that file.
    """
    questionnaires: dict[str, Questionnaire] = {}
    problems: list[Problem] = []
    for path in sorted(root.glob("*.yaml")) if root.exists() else []:
        rel = _rel(path)
        before = len(problems)
        try:
            # Bandit B506: the loader is a SafeLoader subclass.
            data = yaml.load(read_content_text(path), Loader=_LineLoader)  # nosec B506
            form = _build(data, path, rel, problems)
        except Exception as exc:  # the last-resort net: one file never stops the others
            problems.append(problem_from_exception(rel, exc))
            continue
        if form is not None and len(problems) == before:
            questionnaires[form.id] = form
    return questionnaires, problems


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _line(mapping, default: int = 1) -> int:
    """The line a mapping starts on (the loader records it), or ``default``."""
    return mapping.get("__line__", default) if isinstance(mapping, dict) else default


def _build(data, path: Path, rel: str, problems: list[Problem]) -> Questionnaire | None:
    """One definition, checked. Wrong values are problems; a wrong kind of value raises ContentValueError."""
    def problem(line, message, fix=""):
        problems.append(Problem(rel, line, message, fix))

    data = typed(data, dict, "the file", default={}, fix="write the settings as 'name: value' lines")
    line = _line(data)
    if data.get("id") != path.stem:
        problem(line, f"id {data.get('id')!r} must be the file name {path.stem!r}", f"write 'id: {path.stem}'")
        return None
    licence = typed(data.get("licence"), str, "licence", line=line,
                    fix="write 'licence: free' or 'licence: licence-required'")
    if licence not in LICENCES:
        problem(line, f"licence {licence!r} is unknown", "write 'licence: free' or 'licence: licence-required'")
    items = _items(data, licence, problem)
    by_id = {i.id: i for i in items}
    for item in items:
        if item.reverse and item.type not in SCORED_TYPES:
            problem(item.line, f"item {item.id!r} is reverse-scored but has no scale", "remove 'reverse' or give it a scale")
        if item.reverse and item.options and sorted(o.value for o in item.options) != list(range(item.low, item.high + 1)):
            problem(item.line, f"reverse-scored item {item.id!r} needs options with every value from {item.low} to {item.high}",
                    "reverse scoring maps v to min + max - v, so every value must exist")

    scoring = typed(data.get("scoring"), dict, "scoring", line=line, default={},
                    fix="write the scoring settings indented below 'scoring:', e.g. '  method: sum'")
    scoring_line = _line(scoring, line)
    method = typed(scoring.get("method"), str, "method", line=scoring_line, default="sum",
                   fix="write 'method: sum' or 'method: mean'")
    if method not in METHODS:
        problem(scoring_line, f"scoring method {method!r} is unknown", "write 'method: sum' or 'method: mean'")
    total = _scale(scoring, method, by_id, scoring_line, problem) if scoring.get("items") else None
    subscales = {}
    for name, spec in typed(scoring.get("subscales"), dict, "subscales", line=scoring_line, default={},
                            fix="write one subscale per line below 'subscales:', e.g. '  anxiety: {items: [a1, a2]}'").items():
        if name == "__line__":
            continue
        spec = typed(spec, dict, f"the subscale {name}", line=scoring_line, default={},
                     fix="write e.g. '  anxiety: {items: [a1, a2], range: [0, 6]}'")
        spec_line = _line(spec, scoring_line)
        spec_method = typed(spec.get("method"), str, "method", line=spec_line, default=method,
                            fix="write 'method: sum' or 'method: mean'")
        if spec_method not in METHODS:
            problem(spec_line, f"scoring method {spec_method!r} of the subscale {name!r} is unknown",
                    "write 'method: sum' or 'method: mean'")
            continue
        scale = _scale(spec, spec_method, by_id, spec_line, problem)
        if scale is not None:
            subscales[str(name)] = scale
    missing = typed(scoring.get("missing"), dict, "missing", line=scoring_line, default={},
                    fix="write e.g. 'missing: {max_missing: 1}'")
    max_missing = typed(missing.get("max_missing"), int, "max_missing", line=scoring_line, default=0,
                        fix="e.g. 'missing: {max_missing: 1}'")
    if max_missing < 0:
        problem(scoring_line, "max_missing must be a whole number, 0 or more", "e.g. 'missing: {max_missing: 1}'")
        max_missing = 0
    better = _better(scoring, scoring_line, total is not None or bool(subscales), problem)
    meaningful_change = typed(scoring.get("meaningful_change"), float, "meaningful_change", line=scoring_line,
                              fix="write the smallest change that counts, e.g. 'meaningful_change: 5'")
    reliable = typed(scoring.get("reliable_change"), dict, "reliable_change", line=scoring_line, default=None,
                     fix="write e.g. 'reliable_change: {points: 6, source: \"…\"}'")
    reliable_change = None
    if reliable is not None:
        points = typed(reliable.get("points"), float, "the points of reliable_change", line=scoring_line,
                       fix="write the smallest reliable change, e.g. 'points: 6'")
        source = typed(reliable.get("source"), str, "the source of reliable_change", line=scoring_line, default="",
                       fix="name the publication the rule comes from")
        if points is None or points <= 0 or not source.strip():
            problem(scoring_line, "reliable_change needs points above zero and its source",
                    "write e.g. 'reliable_change: {points: 6, source: \"…\"}'")
        else:
            reliable_change = ReliableChange(points, source.strip())
    source = typed(data.get("source"), str, "source", line=line, default="",
                   fix="name where the questionnaire comes from, e.g. 'source: \"Kroenke K et al. 2001\"'").strip()
    if not source:
        problem(line, "the questionnaire has no source",
                "write a 'source:' line naming the publication, or 'Lotsa's own question' for a form of our own")
    safety = _safety_rules(data, by_id, problem)
    default_language = typed(data.get("default_language"), str, "default_language", line=line, default="sv",
                             fix="write the language shown when the reader's has no version, e.g. 'default_language: sv'")
    versions = _versions(data, items, licence, problem)
    if versions and default_language not in versions:
        if "default_language" in data:
            problem(line, f"the default language {default_language!r} has no version",
                    f"add {default_language} under versions")
        else:  # not said: the first version is the default
            default_language = next(iter(versions))
    return Questionnaire(
        id=data["id"], licence=licence or "free", titles=text_map(data.get("title"), "title", line=line),
        recalls=text_map(data.get("recall"), "recall", line=line),
        items=items, total=total, subscales=subscales, max_missing=max_missing,
        meaningful_change=meaningful_change, safety=safety, path=rel, better=better,
        show_results=typed(data.get("show_results"), bool, "show_results", line=line, default=False),
        reliable_change=reliable_change,
        versions=versions, default_language=default_language, source=source,
    )


def _better(scoring: dict, line: int, scored: bool, problem) -> str:
    """Which way is improvement. A scored form must say it: left to a default, a rising
    score would read as a worsening on one scale and an improvement on the next
    (EQ VAS counts up, PHQ-9 down)."""
    better = typed(scoring.get("better"), str, "better", line=line, default=None, fix="write e.g. 'better: lower'")
    if better is None:
        if scored:
            problem(line, "a scored questionnaire must say which way is better",
                    "write 'better: lower' (a falling score is an improvement) or 'better: higher' under scoring")
        return "lower"
    if better not in ("lower", "higher"):
        problem(line, f"better must be 'lower' or 'higher', not {better!r}", "write e.g. 'better: lower'")
        return "lower"
    return better


def _versions(data: dict, items: list[Item], licence, problem) -> dict[str, Version]:
    """The declared language versions, and a check that every version has the same items and options.

    Items and options are written once with a text per language, so a version
    "differs" from another when an item, an option or a scale end lacks its text
    in that version's language, or has one in a language that is no version.
    Without ``versions:`` the languages of the texts are the versions, each of
    unrecorded source and so not validated.
    """
    line = _line(data)
    declared = typed(data.get("versions"), dict, "versions", line=line, default=None,
                     fix="write one line per language below 'versions:', e.g. "
                         "'  sv: {source: \"…\", validated: true}'")
    versions: dict[str, Version] = {}
    if declared is None:
        languages = {lang for item in items for lang in item.texts}
        versions = {lang: Version(lang, "source not recorded", False, line) for lang in sorted(languages)}
    else:
        for lang, spec in declared.items():
            if lang == "__line__":
                continue
            spec_line = _line(spec, line)
            if not isinstance(spec, dict) or not isinstance(spec.get("source"), str) or not spec["source"].strip():
                problem(spec_line, f"the {lang} version needs a source",
                        "write e.g. '{source: \"PHQ-9, Swedish translation by …\", validated: true}', "
                        "or '{source: \"our own translation\", validated: false}'")
                continue
            if not isinstance(spec.get("validated"), bool):
                problem(spec_line, f"the {lang} version must say whether it is validated",
                        "write 'validated: true' only for a published validated translation, else 'validated: false'")
                continue
            versions[str(lang)] = Version(str(lang), spec["source"].strip(), spec["validated"], spec_line)
    if not versions or (licence != "free" and not any(item.texts for item in items)):
        return versions
    wanted = set(versions)

    def compare(texts: dict, what: str, at: int) -> None:
        for lang in sorted(wanted - set(texts)):
            problem(at, f"{what} has no {lang} text, but the questionnaire has a {lang} version",
                    f"add '{lang}: …' to {what}, or leave the {lang} version out")
        for lang in sorted(set(texts) - wanted):
            problem(at, f"{what} has a {lang} text, but {lang} is not one of the versions "
                        f"({', '.join(sorted(wanted))})", f"declare the {lang} version under versions, or remove the text")

    if data.get("recall") is not None:
        compare(text_map(data.get("recall"), "recall", line=line), "the recall text", line)
    for item in items:
        if item.texts or item.type != "info":
            compare(item.texts, f"item {item.id!r}", item.line)
        for option in item.options:
            compare(option.labels, f"option {option.value} of item {item.id!r}", option.line)
        for name, labels in (("min_label", item.min_labels), ("max_label", item.max_labels)):
            if labels:
                compare(labels, f"the {name} of item {item.id!r}", item.line)
    return versions


def _items(data: dict, licence, problem) -> list[Item]:
    """The questionnaire's items in order; broken ones are reported and left out."""
    line = _line(data)
    option_sets = typed(data.get("option_sets"), dict, "option_sets", line=line, default={},
                        fix="write one named list of options per line below 'option_sets:'")
    # Checked here, used or not: a broken option set is a mistake even before an item names it.
    option_sets = {name: typed(opts, list, f"the option set {name}", line=line, default=[],
                               fix="write the option set as a list of '- {value: 0, label: {…}}' lines")
                   for name, opts in option_sets.items() if name != "__line__"}
    items: list[Item] = []
    seen: set[str] = set()
    for raw in typed(data.get("items"), list, "items", line=line, default=[],
                     fix="write one '- {id: …, type: …}' line per item below 'items:'"):
        item_line = _line(raw, line)
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not ITEM_ID_RE.match(raw["id"]):
            problem(item_line, "every item needs an id of lower-case letters and digits", "e.g. 'id: q1'")
            continue
        if raw["id"] in RESERVED_ITEM_IDS:
            problem(item_line, f"an item cannot be called {raw['id']!r} (the answer form uses that name)",
                    "give it another id, e.g. 'q1'")
            continue
        if raw["id"] in seen:
            problem(item_line, f"the item id {raw['id']!r} is used twice", "give every item its own id")
        seen.add(raw["id"])
        item = _item(raw, item_line, option_sets, licence, problem)
        if item is not None:
            items.append(item)
    return items


def _item(raw: dict, line: int, option_sets: dict, licence, problem) -> Item | None:
    """One item of the questionnaire, or None (with a problem) if it cannot be used."""
    item_id = raw["id"]
    kind = typed(raw.get("type"), str, f"the type of item {item_id!r}", line=line,
                 fix="use one of: " + ", ".join(sorted(ITEM_TYPES)))
    if kind not in ITEM_TYPES:
        problem(line, f"item {item_id!r} has the unknown type {kind!r}", "use one of: " + ", ".join(sorted(ITEM_TYPES)))
        return None
    options: list[Option] = []
    raw_options = typed(raw.get("options"), (str, list), f"the options of item {item_id!r}", line=line,
                        fix="list the options, or write the name of an option set")
    if isinstance(raw_options, str):
        if raw_options not in option_sets:
            problem(line, f"item {item_id!r} uses the option set {raw_options!r}, which is not defined",
                    "define it under option_sets")
            return None
        raw_options = option_sets[raw_options]
    for opt in raw_options or []:
        if not isinstance(opt, dict) or not is_kind(opt.get("value"), int):
            problem(line, f"an option of item {item_id!r} has no whole-number value", "write {value: 0, label: {...}}")
            continue
        options.append(Option(opt["value"], text_map(opt.get("label"), "label", line=_line(opt, line)), _line(opt, line)))
    low = typed(raw.get("min"), int, f"min of item {item_id!r}", line=line, fix="e.g. 'min: 0, max: 10'")
    high = typed(raw.get("max"), int, f"max of item {item_id!r}", line=line, fix="e.g. 'min: 0, max: 10'")
    if kind == "single_choice" and not options and not (low is not None and high is not None):
        problem(line, f"item {item_id!r} has no options", "list options, name an option set, or give min and max")
        return None
    if kind in ("scale", "vas") and not (low is not None and high is not None and low < high):
        problem(line, f"item {item_id!r} needs whole-number min and max, min below max", "e.g. 'min: 0, max: 10'")
        return None
    texts = text_map(raw.get("text"), "text", line=line)
    if licence == "free" and kind != "info" and not texts:
        problem(line, f"item {item_id!r} has no text", "add text: {sv: …, en: …}")
    return Item(
        id=item_id, type=kind, texts=texts,
        required=typed(raw.get("required"), bool, "required", line=line, default=False),
        options=tuple(options), min=low, max=high,
        reverse=typed(raw.get("reverse"), bool, "reverse", line=line, default=False),
        min_labels=text_map(raw.get("min_label"), "min_label", line=line),
        max_labels=text_map(raw.get("max_label"), "max_label", line=line), line=line,
    )


def _safety_rules(data: dict, by_id: dict, problem) -> list[SafetyRule]:
    """The answers that alert the care team at once."""
    safety = []
    for rule in typed(data.get("safety"), list, "safety", line=_line(data), default=[],
                      fix="write one '- {item: q9, min: 1}' line per rule below 'safety:'"):
        line = _line(rule)
        item = rule.get("item") if isinstance(rule, dict) else rule
        if not isinstance(rule, dict) or not isinstance(item, str) or item not in by_id:
            problem(line, f"the safety rule names the unknown item {item!r}", "use the id of an item in this questionnaire")
            continue
        if not is_kind(rule.get("min"), int):
            problem(line, "a safety rule needs 'min': the lowest answer that alerts", "e.g. {item: q9, min: 1}")
            continue
        safety.append(SafetyRule(item, rule["min"]))
    return safety


def _scale(spec: dict, method: str, by_id: dict, line: int, problem) -> Scale | None:
    """The total or one subscale: its items, bands and range, checked against each other."""
    names = []
    for name in typed(spec.get("items"), list, "items", line=line, default=[],
                      fix="write the item ids as a list, e.g. 'items: [q1, q2]'"):
        # An id YAML reads as a number still names an (unknown) item, reported below.
        names.append(str(typed(name, (str, int), "every entry under items", line=line,
                               fix="write the item ids as a list, e.g. 'items: [q1, q2]'")))
    unknown = [n for n in names if n not in by_id]
    if unknown:
        problem(line, f"scoring names unknown items: {', '.join(unknown)}", "use the ids of items in this questionnaire")
        return None
    unscored = [n for n in names if by_id[n].type not in SCORED_TYPES]
    if unscored:
        problem(line, f"these items cannot be scored: {', '.join(unscored)}", "score only choice, scale, vas and number items")
        return None
    bands = []
    for raw in typed(spec.get("bands"), list, "bands", line=line, default=[],
                     fix="write one '- {min: 0, max: 4, label: {…}}' line per band"):
        band_line = _line(raw, line)
        if not isinstance(raw, dict) or not all(is_kind(raw.get(k), float) for k in ("min", "max")):
            problem(band_line, "a band needs numbers min and max", "e.g. {min: 0, max: 4, label: {...}}")
            return None
        bands.append(Band(raw["min"], raw["max"], text_map(raw.get("label"), "label", line=band_line)))
    bands.sort(key=lambda b: b.min)
    # Bands must cover the range without gaps or overlaps (whole-number sums).
    for earlier, later in pairwise(bands):
        step = 1 if method == "sum" else 0
        if later.min <= earlier.max:
            problem(line, f"bands overlap: {earlier.min}–{earlier.max} and {later.min}–{later.max}",
                    "make each band start where the one before ends")
            return None
        if step and later.min != earlier.max + step:
            problem(line, f"there is a gap between the bands {earlier.min}–{earlier.max} and {later.min}–{later.max}",
                    "make each band start right after the one before")
            return None
    score_range = typed(spec.get("range"), list, "range", line=line, fix="write the lowest and highest score, e.g. 'range: [0, 27]'")
    if score_range is not None and (len(score_range) != 2 or not all(is_kind(v, float) for v in score_range)):
        raise ContentValueError("range must be two numbers, the lowest and the highest score", "e.g. 'range: [0, 27]'", line)
    if bands and score_range and (bands[0].min != score_range[0] or bands[-1].max != score_range[1]):
        problem(line, f"the bands cover {bands[0].min}–{bands[-1].max} but the range is {score_range[0]}–{score_range[1]}",
                "make the bands start at the lowest and end at the highest possible score")
        return None
    return Scale(items=tuple(names), method=method, bands=tuple(bands),
                 range=tuple(score_range) if score_range else None)
