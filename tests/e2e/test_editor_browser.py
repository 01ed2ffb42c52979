"""An editor writes a new module in the browser, a second editor approves it, a patient reads it.

Works on a temporary copy of the content tree; screenshots at 1280×800 go to
the test's temporary folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.helpers import log_in

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TEXT = """---
title: Sömn och vila
description: Om hur sömnen påverkar smärtan.
minutes: {minutes}
kind: normal
version: 1
---

## Sömn och smärta

::: goal
Målet med avsnittet är att du vet hur sömn och smärta hänger ihop.

- Dålig sömn gör smärtan starkare.
- Vila kan övas.
:::

Den som sover dåligt känner ofta smärtan mer. Här får du tips om hur du kan vila bättre.

## Din sömn

::: reflection sleep-and-rest-nights
Hur har du sovit den senaste veckan?
:::
"""


@pytest.fixture
def app_config(tmp_path):
    copy = tmp_path / "content"
    shutil.copytree(ROOT / "content", copy)
    return {"CONTENT_ROOT": str(copy / "modules"), "FORMS_ROOT": str(copy / "forms")}


def test_an_editor_writes_a_module_a_second_approves_and_a_patient_reads_it(page, browser, live_server, make, db,
                                                                            tmp_path):
    writer, reviewer = make.user("editor", name="Eva Skribent"), make.user("editor", name="Olle Granskare")
    patient = make.user("patient")
    enrolment = make.enrolment(patient, make.unit(), opening="at-once")
    accounts = (writer.email, reviewer.email, patient.email, enrolment.id)
    db.session.commit()
    db.session.close()
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, live_server.url, accounts[0])
    page.goto(live_server.url + "/content/new/pain-school")
    page.get_by_label("Avsnittets id").fill("sleep-and-rest")
    page.get_by_label("Rubrik").fill("Sömn och vila")
    page.get_by_role("button", name="Skapa och redigera").click()
    page.wait_for_url("**/edit")
    page.get_by_label("Markdown", exact=True).fill(TEXT.format(minutes="tjugo"))
    page.get_by_role("button", name="Granska").click()
    problems = page.locator(".editor-problems")
    problems.get_by_text("Rad 4").wait_for()
    page.screenshot(path=str(tmp_path / "editor-problem-1280.png"), full_page=True)
    page.get_by_label("Markdown", exact=True).fill(TEXT.format(minutes="20"))
    page.get_by_role("button", name="Granska").click()
    problems.get_by_text("Inga problem hittades.").wait_for()
    assert page.locator(".editor-preview").get_by_text("Den som sover dåligt").is_visible()
    page.get_by_label("Vad ändrade du").fill("Nytt avsnitt om sömn")
    page.get_by_role("button", name="Spara som utkast").click()
    page.get_by_text("Utkastet är sparat").wait_for()
    assert page.get_by_role("button", name="Godkänn och publicera").count() == 0  # not their own

    second = browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm", viewport={"width": 1280, "height": 800})
    review = second.new_page()
    log_in(review, live_server.url, accounts[1])
    review.goto(live_server.url + "/content/drafts/")
    review.get_by_role("link", name="pain-school/sleep-and-rest/sv.md").click()
    review.locator(".diff-add").get_by_text("Den som sover dåligt", exact=False).wait_for()
    review.screenshot(path=str(tmp_path / "editor-review-1280.png"), full_page=True)
    review.get_by_role("button", name="Godkänn och publicera").click()
    review.get_by_text("Godkänt: version").wait_for()
    second.close()

    third = browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")
    reader = third.new_page()
    log_in(reader, live_server.url, accounts[2])
    reader.goto(f"{live_server.url}/e/{accounts[3]}/sleep-and-rest/1")
    reader.get_by_role("heading", name="Sömn och smärta").wait_for()
    assert reader.get_by_text("Den som sover dåligt känner ofta smärtan mer.").is_visible()
    third.close()
