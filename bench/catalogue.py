"""Benchmark: loading the content catalogue at start-up.

Builds a synthetic programme of 100 modules x 3 languages from the shipped
pain-school texts (ids renamed so they stay unique), then times
``load_catalogue`` side by side with a baseline that only reads the same files
from disk. Reports the median of several runs and the ratio to the baseline.

    .venv/bin/python bench/catalogue.py [--modules 100] [--runs 5]

Target (issue 3): under one second for 100 modules x 3 languages.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.content.services import load_catalogue  # noqa: E402

LANGS = ("sv", "en", "ar")
BLOCK_ID = re.compile(r"^(::: (?:reflection|task|rating|diary) )([a-z0-9-]+)", re.MULTILINE)


def build(target: Path, modules: int) -> int:
    sources = sorted((ROOT / "content" / "modules" / "pain-school").glob("*/sv.md"))
    programme = target / "modules" / "bench"
    programme.mkdir(parents=True)
    names = [f"m{n:03d}" for n in range(modules)]
    (programme / "programme.yaml").write_text(
        "id: bench\ndefault_language: sv\nlanguages: [sv, en, ar]\nrecommended_days: 365\npace: weekly\n"
        "title: {sv: Bench, en: Bench, ar: Bench}\nmodules:\n" + "".join(f"  - {n}\n" for n in names),
        encoding="utf-8",
    )
    files = 0
    for index, name in enumerate(names):
        folder = programme / name
        folder.mkdir()
        source = sources[index % len(sources)]
        for lang in LANGS:
            # The same text in every language keeps ids and block counts equal.
            text = source.read_text(encoding="utf-8")
            text = BLOCK_ID.sub(lambda m, prefix=name: f"{m.group(1)}{prefix}-{m.group(2)}", text)
            text = text.replace("::: video what-is-pain\n", "::: tip\n")
            text = re.sub(r"\(module:[a-z0-9-]+\)", f"(module:{names[0]})", text)
            (folder / f"{lang}.md").write_text(text, encoding="utf-8")
            files += 1
    shutil.copytree(ROOT / "media", target / "media")
    return files


def read_only(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            path.read_bytes()


def time_runs(fn, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def run(modules: int = 100, runs: int = 5) -> dict:
    """Time load_catalogue beside reading the same files; return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = build(root, modules)
        catalogue = load_catalogue(root / "modules", root / "media", root / "forms")
        assert not catalogue.errors, catalogue.errors[:3]
        baseline = time_runs(lambda: read_only(root), runs)
        load = time_runs(lambda: load_catalogue(root / "modules", root / "media", root / "forms"), runs)
    result = {
        "benchmark": "catalogue-load",
        "date": date.today().isoformat(),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "modules": modules, "languages": len(LANGS), "files": files, "runs": runs,
        "baseline_read_files_median_s": statistics.median(baseline),
        "load_catalogue_median_s": statistics.median(load),
        "load_catalogue_max_s": max(load),
    }
    result["ratio_to_baseline"] = result["load_catalogue_median_s"] / result["baseline_read_files_median_s"]
    result["within_budget"] = result["load_catalogue_max_s"] < 1.0
    return result


def print_result(result: dict) -> None:
    print(f"{'what':<34}{'median':>10}")
    print(f"{'baseline: read the files':<34}{result['baseline_read_files_median_s'] * 1000:>8.1f} ms")
    print(f"{'load_catalogue (parse + check)':<34}{result['load_catalogue_median_s'] * 1000:>8.1f} ms")
    print(f"ratio {result['ratio_to_baseline']:.1f}x baseline; slowest run {result['load_catalogue_max_s'] * 1000:.0f} ms "
          f"({'within' if result['within_budget'] else 'OVER'} the 1 s budget for {result['modules']} modules x "
          f"{result['languages']} languages)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modules", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    result = run(args.modules, args.runs)
    print_result(result)
    out = ROOT / "bench" / "results" / f"{result['date']}-catalogue.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
