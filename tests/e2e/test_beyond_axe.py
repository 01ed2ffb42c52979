"""WCAG 2.2 AA checks axe cannot make, over every page type the axe matrix visits
(tests/e2e/test_accessibility.py), in Swedish and Arabic:

- no table cell whose rendered text breaks inside a word: each word's line boxes
  (Range.getClientRects) must sit on one line; a break after a hyphen is allowed in
  words without digits, never in identity numbers, dates or times;
- no focused element hidden under something fixed or sticky (2.4.11), with the page
  as it is and with the idle warning shown;
- every radio group whose options are bare numbers has a description (its end labels);
- every disabled control says why (aria-describedby, its own or its fieldset's);
- every form that can be posted empty: after the failed post the error summary has
  focus, the title says "Fel: …", and every invalid field is linked to its message.

Zoom is a narrower CSS viewport, as a desktop browser's zoom is: 1280 px at 200 % is
a 640 × 400 CSS-pixel viewport, at 400 % 320 × 200. A phone does not reflow when
pinched; its zoom is the system's text size, so 360 px at 200/400 % is the 360 × 740
viewport with the root font size at 200/400 % (every size in lotsa.css is in rem).

One browser, one logged-in context per role and language, one page load per page
type and view for all the page checks.
"""

# ruff: noqa: F811  (``world`` is the axe matrix's fixture, imported to be requested by name)
from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import log_in
from tests.e2e.test_accessibility import (  # noqa: F401 (world is a fixture)
    ADMIN_PAGES,
    CLINICIAN_PAGES,
    EDITOR_PAGES,
    PATIENT_PAGES,
    PUBLIC_PAGES,
    _login,
    world,
)

pytestmark = [pytest.mark.e2e, pytest.mark.once_per_matrix]

# (what it stands for, CSS width, CSS height, root font size in %)
VIEWS = [
    ("1280 px at 100 %", 1280, 800, 100),
    ("1280 px at 200 %", 640, 400, 100),
    ("1280 px at 400 %", 320, 200, 100),
    ("360 px at 100 %", 360, 740, 100),
    ("360 px at 200 %", 360, 740, 200),
    ("360 px at 400 %", 360, 740, 400),
]
ERROR_PREFIX = {"sv": "Fel: ", "ar": "خطأ: "}
# The idle warning takes the least room on a full laptop screen and a phone at 200 %
# lies between the 100 % and 400 % it is checked at: these views are left out of that pass.
WARNING_SKIPS = {"1280 px at 100 %", "360 px at 200 %"}

# Everything the page checks need, measured in the page in one call.
PAGE_CHECKS = r"""
(withWarning) => {
  const out = {broken: [], obscured: [], bare: [], disabled: [], cells: 0, scales: 0, focusables: 0};
  const visible = el => el.checkVisibility({visibilityProperty: true});
  const textOf = ids => (ids || "").split(/\s+/).filter(Boolean)
    .map(id => document.getElementById(id)).filter(Boolean).map(el => el.textContent.trim()).join(" ");

  // 1. Words in table cells: one line box each.
  function lines(range) {
    const rects = [...range.getClientRects()].filter(r => r.width > 0.5).sort((a, b) => a.top - b.top);
    let count = 0, bottom = -Infinity;
    for (const r of rects) { if (r.top >= bottom - 2) { count++; } bottom = Math.max(bottom, r.bottom); }
    return count;
  }
  for (const cell of document.querySelectorAll("main td, main th")) {
    if (!visible(cell)) continue;
    out.cells++;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement || !visible(node.parentElement)) continue;
      for (const m of node.data.matchAll(/\S+/g)) {
        // Without digits a word may break after its hyphens ("e-post", "Smärtskola-"): check the parts.
        const parts = /\d/.test(m[0]) ? [[m.index, m[0].length]] : [...m[0].matchAll(/[^-\u2010\u2011/]+[-\u2010\u2011/]*/g)].map(p => [m.index + p.index, p[0].length]);
        for (const [start, length] of parts) {
          const range = document.createRange();
          range.setStart(node, start); range.setEnd(node, start + length);
          if (lines(range) > 1) {
            out.broken.push(node.data.substr(start, length) + " (in: " + cell.textContent.trim().replace(/\s+/g, " ").slice(0, 60) + ")");
          }
        }
      }
    }
  }

  // 2. Focus not obscured: every focusable, focused in turn (the browser scrolls it into
  // view as Tab does); its centre may not lie under a fixed or sticky element.
  if (withWarning) {
    const box = document.getElementById("session-warning");
    if (!box) return out;
    if (box.lotsaShow) { box.lotsaShow(); } else { box.hidden = false; document.getElementById("session-extend").focus(); }
  }
  const fixed = [...document.querySelectorAll("body *")].filter(el => {
    const p = getComputedStyle(el).position; return (p === "fixed" || p === "sticky") && visible(el);
  });
  const focusables = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])')]
    .filter(el => !el.disabled && !el.closest("[inert]") && visible(el) && el.getClientRects().length);
  for (const el of focusables) {
    el.focus();
    if (document.activeElement !== el) continue;
    out.focusables++;
    const r = el.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    for (const f of fixed) {
      if (f.contains(el) || el.contains(f)) continue;
      const fr = f.getBoundingClientRect();
      if (x > fr.left && x < fr.right && y > fr.top && y < fr.bottom) {
        out.obscured.push((el.textContent.trim() || el.getAttribute("aria-label") || el.name || el.tagName).slice(0, 40)
          + " under " + (f.id || f.className || f.tagName));
      }
    }
  }
  if (withWarning) return out;

  // 3. Radio groups of bare numbers need a description (their end labels).
  const nameOf = r => (r.getAttribute("aria-label") || textOf(r.getAttribute("aria-labelledby"))
    || [...(r.labels || [])].map(l => l.textContent.trim()).join(" ")).trim();
  const groups = new Map();
  for (const r of document.querySelectorAll("main input[type=radio]")) {
    const key = (r.form ? r.form.getAttribute("action") || "" : "") + "|" + r.name;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  for (const [key, radios] of groups) {
    if (!radios.every(r => /^\s*\d+\s*$/.test(nameOf(r)))) continue;
    out.scales++;
    let described = radios.some(r => textOf(r.getAttribute("aria-describedby")));
    for (let el = radios[0].parentElement; el && !described; el = el.parentElement) {
      if (el.matches("fieldset, [role=radiogroup], [role=group]") && textOf(el.getAttribute("aria-describedby"))) described = true;
    }
    if (!described) out.bare.push(key + ": " + radios.map(nameOf).join(","));
  }

  // 4. A disabled control says why.
  for (const el of document.querySelectorAll("main input:disabled, main select:disabled, main textarea:disabled, main button:disabled")) {
    if (el.type === "hidden") continue;
    let why = textOf(el.getAttribute("aria-describedby"));
    for (let f = el.closest("fieldset[disabled]"); f && !why; f = f.parentElement && f.parentElement.closest("fieldset[disabled]")) {
      why = textOf(f.getAttribute("aria-describedby"));
    }
    if (!why) out.disabled.push(el.name || el.id || el.tagName);
  }
  return out;
}
"""


ROLES = ["patient", "clinician", "editor", "admin", "public"]
# Beyond the matrix's pages: the module page with a 0–10 rating and a questionnaire of 0–10 scales (PEG).
EXTRA_PATIENT_PAGES = ["/e/{e}/pain-physiology/6", "/e/{e}/questionnaires/{peg}"]


def _pages(role):
    return {"patient": PATIENT_PAGES + EXTRA_PATIENT_PAGES, "clinician": CLINICIAN_PAGES, "editor": EDITOR_PAGES,
            "admin": ADMIN_PAGES, "public": PUBLIC_PAGES}[role]


def _log_in_as(page, server, world, role, lang):
    if role == "public":
        page.goto(server.url + "/auth/login")
        if lang != "sv":
            page.get_by_role("button", name={"ar": "العربية"}[lang]).click()
            page.wait_for_load_state()
    elif role == "patient":
        _login(page, server, world["patient"])
    else:
        _login(page, server, *world[role])


@pytest.fixture(params=["sv", "ar"])
def lang(request):
    return request.param


@pytest.fixture
def scales_world(world, db):
    """The matrix's world and a PEG questionnaire (three 0–10 scales) waiting for the patient."""
    from sqlalchemy import select

    from webapp.auth.models import User
    from webapp.content.services import get_catalogue
    from webapp.programme.models import Enrolment
    from webapp.questionnaires.models import Dispatch
    from webapp.questionnaires.services import send_round

    clinician = db.session.scalar(select(User).where(User.email == world["clinician"][0]))
    enrolment = db.session.get(Enrolment, world["e"])
    round_ = send_round(get_catalogue().forms["peg"], enrolment.care_unit_id, clinician, [enrolment])
    db.session.commit()
    peg = db.session.query(Dispatch.id).filter_by(round_id=round_.id).scalar()
    db.session.close()
    return {**world, "peg": peg}


def _check_pages(page, server, world, role, lang):
    """The page checks on every page type of a role, in every view; (problems, figures)."""
    problems, figures = [], {"loads": 0, "cells": 0, "scales": 0, "focusables": 0}
    for template in _pages(role):
        path = template.format(**world)
        # One load per page: the views are the same page resized (media queries and the
        # layout follow at once; no script on these pages lays anything out by width).
        page.set_viewport_size({"width": VIEWS[0][1], "height": VIEWS[0][2]})
        response = page.goto(server.url + path)
        assert response.status == 200, path
        figures["loads"] += 1
        # The page as it is in every view, then (logged in) with the idle warning shown.
        for warning in (False, True) if role != "public" else (False,):
            for label, width, height, font in VIEWS:
                if warning and label in WARNING_SKIPS:
                    continue
                page.set_viewport_size({"width": width, "height": height})
                page.evaluate("f => { document.documentElement.style.fontSize = f === 100 ? '' : f + '%'; }", font)
                found = page.evaluate(PAGE_CHECKS, warning)
                where = f"{path} in {lang}, {label}" + (", idle warning shown" if warning else "")
                problems += [f"{where}: focused element hidden: {w}" for w in found["obscured"]]
                figures["focusables"] += found["focusables"]
                if warning:
                    continue
                for key in ("cells", "scales"):
                    figures[key] += found[key]
                problems += [f"{where}: word broken in a table cell: {w}" for w in found["broken"]]
                problems += [f"{where}: radio group of bare numbers without a description: {w}" for w in found["bare"]]
                problems += [f"{where}: disabled control that does not say why: {w}" for w in found["disabled"]]
    return problems, figures


FORM_SCRIPT = r"""
(index) => {
  const form = [...document.querySelectorAll("main form")].filter(f => (f.method || "").toLowerCase() === "post")[index];
  form.noValidate = true;
  for (const el of form.querySelectorAll("input[type=text], input[type=email], input[type=password], input[type=number], input[type=tel], input[type=date], input:not([type]), textarea")) {
    el.value = "";
  }
  for (const el of form.querySelectorAll("input[type=radio]")) { el.checked = false; }
  const submitter = form.querySelector("button[type=submit]:not([name=insert]), button:not([type]), input[type=submit]");
  form.requestSubmit(submitter || undefined);
}
"""

# Which of a page's post forms have something to leave empty, and are not a plain action
# (log out, language, mark as done) that has nothing a person types.
FORMS_ON_PAGE = r"""
() => [...document.querySelectorAll("main form")].filter(f => (f.method || "").toLowerCase() === "post").map((f, i) => ({
  index: i,
  action: f.getAttribute("action") || location.pathname,
  autosave: f.classList.contains("answer-form"),
  typed: f.querySelectorAll("input[type=text], input[type=email], input[type=password], input[type=number], input[type=tel], input[type=date], input:not([type]), textarea, input[type=radio]").length > 0,
  danger: !!f.querySelector("button.danger"),
}))
"""

AFTER_POST = r"""
() => {
  const textOf = ids => (ids || "").split(/\s+/).filter(Boolean)
    .map(id => document.getElementById(id)).filter(Boolean).map(el => el.textContent.trim()).join(" ");
  const invalid = [...document.querySelectorAll('main [aria-invalid="true"]')];
  const summary = document.querySelector("[data-error-summary]");
  const messages = [...document.querySelectorAll("main .field-errors")];
  const described = new Set(invalid.flatMap(el => (el.getAttribute("aria-describedby") || "").split(/\s+/)));
  for (const el of invalid) {
    for (let f = el.closest("fieldset"); f; f = f.parentElement && f.parentElement.closest("fieldset")) {
      (f.getAttribute("aria-describedby") || "").split(/\s+/).forEach(id => described.add(id));
    }
  }
  return {
    title: document.title,
    invalid: invalid.length,
    unlinked: invalid.filter(el => {
      let text = textOf(el.getAttribute("aria-describedby"));
      for (let f = el.closest("fieldset, [role=radiogroup]"); f && !text; f = f.parentElement && f.parentElement.closest("fieldset, [role=radiogroup]")) {
        text = textOf(f.getAttribute("aria-describedby"));
      }
      return !text;
    }).map(el => el.name || el.id),
    orphanMessages: messages.filter(m => !m.id || !described.has(m.id)).map(m => m.textContent.trim().slice(0, 50)),
    summary: !!summary,
    summaryFocused: !!summary && document.activeElement === summary,
    errorsShown: messages.length,
  };
}
"""


def _post_forms_empty(page, server, world, role, lang):
    """Every post form on a role's pages with its fields emptied: one error pattern.

    A form that accepts an empty post must show no error; one that refuses it shows the
    summary (with focus), "Fel: …" in the title and a message tied to every invalid field.
    """
    problems, posted, refused = [], 0, 0
    seen = set()
    for template in _pages(role):
        path = template.format(**world)
        page.goto(server.url + path)
        for form in page.evaluate(FORMS_ON_PAGE):
            # One form of a kind: a group's sixteen session forms are one form.
            kind = re.sub(r"\d+", "N", form["action"])
            if form["autosave"] or not form["typed"] or form["danger"] or kind in seen:
                continue
            seen.add(kind)
            page.goto(server.url + path)
            with page.expect_navigation():
                page.evaluate(FORM_SCRIPT, form["index"])
            page.wait_for_load_state()
            posted += 1
            after = page.evaluate(AFTER_POST)
            where = f"{form['action']} (from {path}) in {lang}"
            if after["invalid"] or after["errorsShown"] or after["summary"]:
                refused += 1
                if not after["summaryFocused"]:
                    problems.append(f"{where}: the error summary {'does not get' if after['summary'] else 'is missing, so it cannot get'} focus")
                if not after["title"].startswith(ERROR_PREFIX[lang]):
                    problems.append(f"{where}: the title does not start with {ERROR_PREFIX[lang]!r}: {after['title']!r}")
                problems += [f"{where}: invalid field without a message: {n}" for n in after["unlinked"]]
                problems += [f"{where}: message not tied to a field: {m}" for m in after["orphanMessages"]]
    return problems, posted, refused


def test_every_page_type_beyond_axe(browser, browser_context_args, live_server, scales_world, lang, capsys):
    """All roles' page types in six views, then every form posted empty (sv on a laptop, ar on a phone).

    One browser; one logged-in context per role, used for both.
    """
    world = scales_world
    contexts = {}
    problems, lines = [], []
    for role in ROLES:
        context = browser.new_context(**browser_context_args)
        # Films and sounds are not what is checked: a half-loaded one only leaves the server
        # writing to a closed connection when the page moves on.
        context.route(re.compile(r"/media/"), lambda route: route.abort())
        page = context.new_page()
        page.set_default_timeout(10_000)
        _log_in_as(page, live_server, world, role, lang)
        contexts[role] = page
        found, figures = _check_pages(page, live_server, world, role, lang)
        problems += found
        lines.append(f"{role}: {figures['loads']} page types × {len(VIEWS)} views, {figures['cells']} table cells, "
                     f"{figures['focusables']} focus stops, {figures['scales']} number scales, {len(found)} problems")
    width, height = (1280, 800) if lang == "sv" else (360, 740)
    # Forms last, the patient's last of all: an empty post may change what the pages show.
    for role in ["public", "admin", "editor", "clinician", "patient"]:
        page = contexts[role]
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("document.documentElement.style.fontSize = ''")
        found, posted, refused = _post_forms_empty(page, live_server, world, role, lang)
        problems += found
        lines.append(f"{role} forms at {width} px: {posted} posted empty, {refused} refused, {len(found)} problems")
    for page in contexts.values():
        page.context.close()
    with capsys.disabled():
        print(f"\n[beyond axe, {lang}]\n  " + "\n  ".join(lines))
    assert not problems, "\n".join(sorted(set(problems)))


@pytest.fixture
def patient(make, db):
    """A patient in the pain school, for the idle warning's own checks."""
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    person = make.user("patient")
    enrolment = make.enrolment(person, unit, clinician, programme="pain-school")
    found = (person.email, enrolment.id)
    db.session.commit()
    db.session.close()
    return found


COVERED = r"""() => {
  const el = document.activeElement, box = document.getElementById('session-warning');
  if (!el || box.contains(el) || el === document.body) return [];
  const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  return (x > b.left && x < b.right && y > b.top && y < b.bottom) ? [el.textContent.trim().slice(0, 40)] : [];
}"""


@pytest.mark.parametrize("path", ["/accessibility", "/e/{e}/"])
def test_idle_warning_never_covers_focus_on_shift_tab(page, live_server, patient, path):
    """The phone case the audit found: with the idle warning up, Shift+Tab back through the page."""
    email, enrolment_id = patient
    page.set_viewport_size({"width": 360, "height": 740})
    log_in(page, live_server.url, email)
    page.goto(live_server.url + path.format(e=enrolment_id))
    page.evaluate("document.getElementById('session-warning').lotsaShow()")
    assert page.evaluate("document.activeElement.id") == "session-extend"
    hidden, stops = [], 0
    for _ in range(30):
        page.keyboard.press("Shift+Tab")
        stops += 1
        hidden += page.evaluate(COVERED)
    assert stops and not hidden, hidden


def test_idle_warning_scrolls_at_400_percent(page, live_server, patient):
    """At 400 % (320 × 200 CSS px) the whole warning can be reached: it fits or scrolls itself."""
    email, _enrolment = patient
    page.set_viewport_size({"width": 320, "height": 200})
    log_in(page, live_server.url, email)
    page.goto(live_server.url + "/home")
    page.evaluate("document.getElementById('session-warning').lotsaShow()")
    fits = page.evaluate("""() => { const b = document.getElementById('session-warning');
        const r = b.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, scroll: b.scrollHeight > b.clientHeight,
        overflow: getComputedStyle(b).overflowY}; }""")
    assert fits["top"] >= 0 and fits["bottom"] <= 200, fits
    assert not fits["scroll"] or fits["overflow"] in ("auto", "scroll"), fits
    # The heading can be brought into the box's view, and so can the button (it has focus).
    page.locator("#session-warning").evaluate("b => { b.scrollTop = 0; }")
    heading = page.locator("#session-warning-title").bounding_box()
    assert fits["top"] - 1 <= heading["y"] < fits["bottom"], heading
    assert re.search(r"\S", page.locator("#session-warning-title").inner_text())
    page.locator("#session-extend").evaluate("b => b.scrollIntoView({block: 'nearest'})")
    button = page.locator("#session-extend").bounding_box()
    assert fits["top"] - 1 <= button["y"] and button["y"] + button["height"] <= fits["bottom"] + 1, button
