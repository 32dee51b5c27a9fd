"""The shape of the code: no import cycles, analysis apart from the launcher, a command line that starts without
the heavy libraries, and every private Ray and Optuna API still where sweeps/internals.py uses it."""

import ast
import graphlib
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from sweeps import internals

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sweeps", "trainables", "analysis")
LAUNCHER = ("sweeps.cli", "sweeps.demo", "sweeps.launch", "sweeps.rerun", "sweeps.session", "sweeps.summary",
            "sweeps.search", "sweeps.progress")
HEAVY = ("torch", "sklearn", "matplotlib", "ray", "optuna", "scipy")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool) -> set[str]:
    """The project modules a file imports: at its top level (what runs on import), or anywhere."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] in PACKAGES and (ROOT / (n.replace(".", "/") + ".py")).exists()
                  or n.split(".")[0] in PACKAGES and (ROOT / n.replace(".", "/") / "__init__.py").exists()}
    return found


def project_files() -> list[Path]:
    return [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]


def test_no_module_imports_itself_back_on_import():
    graph = {module_name(p): imports(p, top_level_only=True) - {module_name(p)} for p in project_files()}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_analysis_never_imports_the_launcher():
    for path in (ROOT / "analysis").rglob("*.py"):
        assert not imports(path, top_level_only=False) & set(LAUNCHER), path


@pytest.mark.parametrize("module", ["sweeps.cli", "analysis.results"])
def test_the_command_line_and_sweeps_status_start_without_the_heavy_libraries(module):
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.split() == [], f"import {module} loads {loaded.stdout.strip()}"


@pytest.mark.parametrize(("module", "names"), internals.USED.items())
def test_every_private_api_used_is_still_there(module, names):
    try:
        imported = importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"{module} moved ({error}): sweeps/internals.py must follow it")
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
    for module, names in internals.USED.items():
        for name in names:
            owner, _, attribute = name.rpartition(".")
            if owner and owner not in METHODS_OF:
                assert hasattr(instances[owner], attribute), f"{module}.{name} is gone: sweeps/internals.py must " \
                                                              "follow it"
