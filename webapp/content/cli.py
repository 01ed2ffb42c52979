"""``flask --app webapp content check``: every problem in the content, with file and line; and sharing a
questionnaire between installations (``export-form``, ``import-form --dry-run``)."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from webapp.content.services import load_catalogue
from webapp.content.sharing import SharingError, check_bundle, export_bundle, install
from webapp.content.stats import programme_stats
from webapp.editor.services import make_release
from webapp.extensions import db


@click.group()
def content() -> None:
    """Programme content: check it before publishing."""


@content.command("check")
@click.option("--strict", is_flag=True, help="Treat warnings (e.g. missing translations) as errors.")
@with_appcontext
def check(strict: bool) -> None:
    """Validate programmes, modules and media; exit 1 if anything is wrong."""
    config = current_app.config
    try:
        catalogue = load_catalogue(Path(config["CONTENT_ROOT"]), Path(config["MEDIA_ROOT"]), Path(config["FORMS_ROOT"]))
    except Exception as exc:  # damaged files are problems, not exceptions; this is a bug: say so, briefly
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        click.echo(f"{config['CONTENT_ROOT']}:1: the content could not be checked ({type(exc).__name__}{where}) — "
                   "this is a fault in the checker, not in one file: tell a developer", err=True)
        sys.exit(2)
    modules = sum(len(p.modules) for p in catalogue.programmes.values())
    files = sum(len(m.versions) for p in catalogue.programmes.values() for m in p.modules)
    click.echo(f"Checked {len(catalogue.programmes)} programmes, {modules} modules, {files} module files, "
               f"{len(catalogue.media)} media items and {len(catalogue.forms)} questionnaires "
               f"in {catalogue.load_seconds * 1000:.0f} ms.")
    if catalogue.errors:
        click.echo(f"\n{len(catalogue.errors)} error(s):")
        for problem in catalogue.errors:
            click.echo(f"  {problem}")
    if catalogue.warnings:
        click.echo(f"\n{len(catalogue.warnings)} warning(s):")
        for problem in catalogue.warnings:
            click.echo(f"  {problem}")
    if catalogue.errors or (strict and catalogue.warnings):
        sys.exit(1)
    click.echo("\nNo errors.")


@content.command("stats")
@with_appcontext
def stats() -> None:
    """Per programme: modules with a goal, audio minutes per language, pictures with alt text, LIX per module."""
    config = current_app.config
    catalogue = load_catalogue(Path(config["CONTENT_ROOT"]), Path(config["MEDIA_ROOT"]), Path(config["FORMS_ROOT"]))
    for programme in catalogue.programmes.values():
        figures = programme_stats(catalogue, programme)
        goals = sum(m.has_goal for m in figures.modules)
        audio = ", ".join(f"{lang} {seconds / 60:.1f}" for lang, seconds in sorted(figures.audio_seconds.items()) if seconds)
        values = [m.lix for m in figures.modules if m.lix is not None]
        lix_range = f"{min(values):.0f}–{max(values):.0f}" if values else "no text"
        click.echo(f"{programme.id}: {goals}/{len(figures.modules)} modules with goal and key points; "
                   f"audio minutes {audio or 'none'}; pictures with alt text {figures.pictures[0]}/{figures.pictures[1]}; "
                   f"LIX ({programme.default_language}) {lix_range}")
        for module in figures.modules:
            score = f"{module.lix:.0f}" if module.lix is not None else "no text"
            click.echo(f"  {module.module_id}: goal {'yes' if module.has_goal else 'no'}, LIX {score}")


@content.command("release")
@click.option("--note", default="", help="Why this release (shown to editors).")
@with_appcontext
def release(note: str) -> None:
    """Check the content and make it live on every app server; exit 1 if it has errors."""
    row, catalogue = make_release(current_app._get_current_object(), note=note)
    db.session.commit()
    if catalogue is None:
        click.echo(f"Release {row.id} refused: {row.error_count} error(s). The live content stays.", err=True)
        for line in row.errors.splitlines():
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    commit = f", git commit {row.git_commit[:12]}" if row.git_commit else ""
    seconds = current_app.config.get("CONTENT_RELEASE_CHECK_SECONDS") or 2
    click.echo(f"Release {row.label} is live (content {row.content_hash[:12]}{commit}). "
               f"Every app server serves it within about {seconds} seconds.")
@content.command("export-form")
@click.argument("form_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write here (default: stdout).")
@with_appcontext
def export_form(form_id: str, output: str | None) -> None:
    """Write one questionnaire (definition, translations, licence and sources) as a bundle for another unit."""
    try:
        bundle = export_bundle(Path(current_app.config["FORMS_ROOT"]), form_id)
    except SharingError as exc:
        raise click.ClickException(str(exc)) from None
    if output:
        Path(output).write_text(bundle, encoding="utf-8")
        click.echo(f"Wrote {output}.")
    else:
        click.echo(bundle, nl=False)


@content.command("import-form")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Only report what is wrong and what would change.")
@with_appcontext
def import_form(bundle: str, dry_run: bool) -> None:
    """Check a questionnaire bundle against this installation and, without --dry-run, install it.

    Every problem is reported as file:line before anything is written; with any
    error nothing is written at all.
    """
    forms_root = Path(current_app.config["FORMS_ROOT"])
    try:
        text = Path(bundle).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        click.echo(f"{bundle}:1: the bundle is not UTF-8 text — export it again", err=True)
        sys.exit(1)
    result = check_bundle(text, bundle, forms_root)
    for problem in result.problems:
        click.echo(f"  {problem}", err=problem.severity == "error")
    if result.outcome is None:
        click.echo(f"\n{len([p for p in result.problems if p.severity == 'error'])} error(s); nothing was changed.")
        sys.exit(1)
    target = forms_root / f"{result.form_id}.yaml"
    if result.outcome == "same":
        click.echo(f"{target} is already this questionnaire; nothing to do.")
        return
    if dry_run:
        click.echo(f"Dry run: would add {target} ({result.form.licence}, "
                   f"{len(result.form.items)} items, languages {', '.join(sorted(result.form.versions)) or '–'}). "
                   "Nothing was changed.")
        return
    install(result, forms_root)
    click.echo(f"Added {target}. Run 'flask content check', then name the questionnaire in a programme or send it.")
