"""The allowed import directions between Lotsa's packages, and a checker.

Every module of ``webapp`` belongs to the group of the longest prefix in
``RANKS``, and has that group's rank. A module may import modules of a lower
rank, and modules of its own group. Two groups of the same rank are siblings
and must not import each other. Function-level imports count the same as module-level ones:
moving an import into a function hides a dependency, it does not remove it.
docs/architecture.md explains the layers; change both together.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# Lower numbers are further down. A module's group is its longest matching prefix.
RANKS: dict[str, int] = {
    # Infrastructure: knows no feature (one group: see GROUPS).
    "webapp.core": 0,
    # Content files (no app, no database) and the notification outbox.
    "webapp.content": 1,
    "webapp.notifications": 1,
    # Accounts, care units and who belongs where.
    "webapp.auth": 2,
    # The enrolment: its model, guards, lifecycle, schedule and answers.
    "webapp.programme": 3,
    # Features around an enrolment; siblings, independent of each other.
    "webapp.messages": 4,
    "webapp.careplan": 4,
    "webapp.groups": 4,
    "webapp.questionnaires": 4,
    # The patient's own contact details and first-login introduction.
    "webapp.account": 4,
    # The patient information library: public pages, handouts, pages sent to a patient.
    "webapp.library": 4,
    # Content releases, editors' drafts and file history (database rows over the content files).
    "webapp.editor": 4,
    # The reply to the referring unit: its saved versions and the patient's copy (the
    # clinician's pages, which see every feature, write its first draft).
    "webapp.replies": 4,
    # Pages that compose features.
    "webapp.programme.views": 5,
    "webapp.clinician": 5,
    "webapp.admin": 5,
    "webapp.privacy": 5,
    "webapp.content.views": 5,
    "webapp.content.cli": 5,
    # Self-referral: a resident's request is a waiting enrolment with screening questionnaires.
    "webapp.referrals": 5,
    # What leaves Lotsa for other systems: FHIR bundles and the register's timepoints.
    "webapp.interop": 5,
    # The model registry and the scheduler process, then the factory over all.
    "webapp.models": 6,
    "webapp.scheduler": 6,
    "webapp": 7,
}
# Modules that belong to another prefix's group: the extensions and the
# settings are infrastructure, used by core and using it.
GROUPS: dict[str, str] = {
    "webapp.extensions": "webapp.core",
    "webapp.config": "webapp.core",
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def group_of(module: str, ranks: dict[str, int] = RANKS) -> str:
    """The longest prefix of ``module`` in ``ranks``."""
    parts = module.split(".")
    if ".".join(parts[:2]) in GROUPS:
        return GROUPS[".".join(parts[:2])]
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in ranks:
            return prefix
    raise KeyError(f"{module} has no rank: add its package to RANKS")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in(root: Path, package: str = "webapp") -> list[Import]:
    """Every import of a ``package`` module by a ``package`` module, at any depth in the file."""
    found: dict[tuple, Import] = {}
    for path in sorted((root / package).rglob("*.py")):
        importer = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from webapp.careplan import services" imports webapp.careplan.services.
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                if name == package or name.startswith(package + "."):
                    imp = Import(importer, _existing(name, root), str(path.relative_to(root)), node.lineno)
                    found[(imp.importer, imp.imported, imp.line)] = imp
    return list(found.values())


def _existing(name: str, root: Path) -> str:
    """The module a dotted name refers to (drop a trailing class or function name)."""
    parts = name.split(".")
    while len(parts) > 1:
        base = root.joinpath(*parts)
        if base.with_suffix(".py").exists() or (base / "__init__.py").exists():
            break
        parts.pop()
    return ".".join(parts)


def violations(imports: list[Import], ranks: dict[str, int] = RANKS) -> list[str]:
    """Imports that go up a layer or sideways between sibling groups."""
    problems = []
    for imp in imports:
        source, target = group_of(imp.importer, ranks), group_of(imp.imported, ranks)
        if source == target:
            continue
        if ranks[target] > ranks[source]:
            problems.append(f"{imp} (upward: {source} is below {target})")
        elif ranks[target] == ranks[source]:
            problems.append(f"{imp} (sideways: {source} and {target} are siblings)")
    return problems


def group_cycles(imports: list[Import], ranks: dict[str, int] = RANKS) -> list[list[str]]:
    """Cycles in the graph of groups (strongly connected components of two or more)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        source, target = group_of(imp.importer, ranks), group_of(imp.imported, ranks)
        if source != target:
            graph.setdefault(source, set()).add(target)
            graph.setdefault(target, set())
    # Tarjan's algorithm, iterative enough for a graph of a few dozen nodes.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles
