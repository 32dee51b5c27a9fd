"""The shape of the code: layers that import only downwards and no import cycle, lazy imports included; a command
line that starts without the heavy libraries; and every private Ray and Optuna API still where the project uses it."""

import ast
import graphlib
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import internals as storage_internals
from sweeps import internals

ROOT = Path(__file__).resolve().parents[1]
# Each package imports only itself and the packages below it (README: Layout). sweeps and analysis sit side by side
# on top, neither importing the other, but for the verbs that call both: the command line, the Python API the
# command line uses, and the demo that sweeps, reruns and reports.
BELOW = {
    "trainables": set(),
    "experiments": {"trainables"},
    "sweeps": {"experiments", "trainables"},
    "analysis": {"experiments", "trainables"},
}
PACKAGES = tuple(BELOW)
VERBS = {"sweeps": {"analysis"}, "sweeps.cli": {"analysis"}, "sweeps.api": {"analysis"}, "sweeps.demo": {"analysis"}}
HEAVY = ("torch", "sklearn", "matplotlib", "ray", "optuna", "scipy")
USED = {**internals.USED, **storage_internals.USED}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def resolve(name: str) -> str | None:
    """The project module an imported name is, or is in: `analysis.gallery.Panel` -> analysis.gallery."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(path: Path, top_level_only: bool = False) -> dict[str, int]:
    """The project modules a file imports, each with the line of its first import: at its top level (what runs on
    import), or anywhere (lazy imports, and those for type checkers, too)."""
    tree = ast.parse(path.read_text())
    found: dict[str, int] = {}
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            module = resolve(name) if name.split(".")[0] in PACKAGES else None
            if module and MODULES[module] != path:
                found.setdefault(module, node.lineno)
    return found


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    for module, path in MODULES.items():
        package = module.split(".")[0]
        allowed = {package} | BELOW[package] | VERBS.get(module, set())
        wrong += [f"{path.relative_to(ROOT)}:{line}: {module} imports {imported}, which {package} may not "
                  f"(it imports only {', '.join(sorted(allowed))})"
                  for imported, line in imports(path).items() if imported.split(".")[0] not in allowed]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_lazy_imports_included():
    graph = {module: set(imports(path)) for module, path in MODULES.items()}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        cycle = error.args[1][::-1]  # graphlib lists each module before those that import it
        steps = [f"{a} (line {imports(MODULES[a])[b]})" for a, b in zip(cycle, cycle[1:])]
        pytest.fail(f"import cycle: {' -> '.join(steps)} -> {cycle[-1]}")


def test_no_module_imports_itself_back_on_import():
    graph = {module: set(imports(path, top_level_only=True)) for module, path in MODULES.items()}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_analysis_never_imports_the_launcher():
    for path in (ROOT / "analysis").rglob("*.py"):
        assert not [m for m in imports(path) if m.split(".")[0] == "sweeps"], path


def test_the_layer_check_names_an_import_against_the_rule(tmp_path):
    """The checks above read lazy imports and those for type checkers, and name the file, line and modules."""
    path = tmp_path / "family.py"
    path.write_text("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                    "    from analysis.gallery import Panel\n\n\n"
                    "def panels():\n    from analysis import figures\n    import sweeps.launch\n")
    assert imports(path) == {"analysis.gallery": 4, "analysis.figures": 8, "sweeps.launch": 9}
    assert imports(path, top_level_only=True) == {}


def test_every_family_has_its_figures():
    from analysis.panels import panels_of
    from trainables.registry import FAMILIES

    for family in FAMILIES.values():
        assert callable(panels_of(family)), family.name


@pytest.mark.parametrize("module", ["sweeps.cli", "analysis.results", "experiments.trials"])
def test_the_command_line_and_sweeps_status_start_without_the_heavy_libraries(module):
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.split() == [], f"import {module} loads {loaded.stdout.strip()}"


@pytest.mark.parametrize(("module", "names"), USED.items())
def test_every_private_api_used_is_still_there(module, names):
    try:
        imported = importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"{module} moved ({error}): sweeps/internals.py or experiments/internals.py must follow it")
    for name in names:  # a function, a class, or a class's method (its instances' attributes: the next test)
        owner, _, attribute = name.rpartition(".")
        assert hasattr(imported, owner or name), f"{module}.{owner or name} is gone: sweeps/internals.py must follow it"
        if owner in METHODS_OF:
            assert hasattr(getattr(imported, owner), attribute), f"{module}.{name} is gone: sweeps/internals.py must " \
                                                                  "follow it"


# classes whose used internals are methods, not attributes set per instance
METHODS_OF = ("JsonLoggerCallback", "_ExperimentCheckpointManager", "TPESampler", "TuneController", "_FilesystemSyncer")


def test_the_private_attributes_used_are_set_by_their_classes(tmp_path):
    import optuna
    from optuna.storages.journal import JournalFileBackend
    from ray.air.integrations.wandb import WandbLoggerCallback
    from ray.tune.search import SearchGenerator
    from ray.tune.search.optuna import OptunaSearch

    searcher = OptunaSearch(metric="x", mode="min", space={"a": optuna.distributions.FloatDistribution(0, 1)})
    study = optuna.create_study()
    study.tell(study.ask(), 1.0)
    instances = {"OptunaSearch": searcher, "FrozenTrial": study.trials[0], "Study": study,
                 "SearchGenerator": SearchGenerator(searcher),
                 "WandbLoggerCallback": WandbLoggerCallback(project="p"),
                 "JournalFileBackend": JournalFileBackend(str(tmp_path / "journal"))}
    for module, names in USED.items():
        for name in names:
            owner, _, attribute = name.rpartition(".")
            if owner and owner not in METHODS_OF:
                assert hasattr(instances[owner], attribute), f"{module}.{name} is gone: sweeps/internals.py must " \
                                                              "follow it"
