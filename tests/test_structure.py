"""The package's shape: thin commands that never import each other, small modules, defaults in --help."""
import argparse
import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from actionhas.core import cli

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["actionhas.extract", "actionhas.train", "actionhas.localize", "actionhas.evaluate", "actionhas.report",
            "actionhas.detect", "actionhas.demo", "actionhas.image.train", "actionhas.image.evaluate"]


def _imports(module: str) -> list[tuple[str, list[str]]]:
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [a.name for a in node.names]))
            out += [(f"{node.module}.{a.name}", []) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


@pytest.mark.parametrize("module", COMMANDS)
def test_commands_import_no_other_command(module):
    for imported, names in _imports(module):
        if imported in COMMANDS and imported != module:
            assert names == ["main"], f"{module} imports {names or imported} from the command module {imported}"


def test_no_module_exceeds_400_lines():
    files = [p for d in ("actionhas", "feature_extraction") for p in (ROOT / d).rglob("*.py")]
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


HELP_COMMANDS = [[m] for m in COMMANDS if m != "actionhas.extract"] + [["actionhas.extract", s] for s in ("c3d", "merge", "import")]
SHOW_HELP = """
import contextlib, io, runpy, sys
for command in {commands!r}:
    sys.argv = [command[0], *command[1:], "--help"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        runpy.run_module(command[0], run_name="__main__", alter_sys=True)
    print(" ".join(command), out.getvalue().startswith("usage: "))
"""


def test_every_command_runs_as_a_module_and_shows_its_help():
    """One interpreter runs each ``python -m`` entry point's --help as a user would."""
    out = subprocess.run([sys.executable, "-c", SHOW_HELP.format(commands=HELP_COMMANDS)], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [" ".join(c) + " True" for c in HELP_COMMANDS]


def _parsers():
    for module in COMMANDS:
        parser = importlib.import_module(module).build_parser()
        yield module, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                yield from ((f"{module} {name}", sub) for name, sub in action.choices.items())


def test_help_shows_every_default():
    """Every optional flag with a default says it in --help (a preset's text counts)."""
    for name, parser in _parsers():
        formatter = parser.formatter_class(prog=parser.prog)
        assert isinstance(formatter, cli.HelpFormatter), name
        for action in parser._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) and not action.required:
                assert "(default:" in formatter._get_help_string(action), f"{name} {action.option_strings[0]}"


def test_torch_files_are_read_in_one_place_without_unpickling_code():
    """Every torch.load of the package goes through actionhas.formats.torch_files, which passes weights_only=True."""
    readers = [str(path.relative_to(ROOT)) for folder in ("actionhas", "feature_extraction")
               for path in sorted((ROOT / folder).rglob("*.py")) if "torch.load(" in path.read_text()]
    assert readers == ["actionhas/formats/torch_files.py"]
    assert "weights_only=True" in (ROOT / "actionhas" / "formats" / "torch_files.py").read_text()


LAYERS = ["core", "formats", "data", "models", "localization", "evaluation", "training", "reporting"]


def _package_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.split(".")[0] in ("actionhas", "feature_extraction")}


def test_each_layer_imports_only_layers_below_it():
    """core < formats < (feature_extraction) < data < models < localization < evaluation < training < reporting
    < commands; feature_extraction uses core and formats only."""
    wrong = []
    for layer in LAYERS:
        below = {f"actionhas.{name}" for name in LAYERS[:LAYERS.index(layer) + 1]}
        if LAYERS.index(layer) > LAYERS.index("formats"):  # feature_extraction sits on formats
            below |= {f"feature_extraction.{p.stem}" for p in (ROOT / "feature_extraction").glob("*.py")}
        for path in sorted((ROOT / "actionhas" / layer).glob("*.py")):
            wrong += [f"{path.relative_to(ROOT)} imports {n}" for n in _package_imports(path)
                      if ".".join(n.split(".")[:2]) not in below]
    for path in sorted((ROOT / "feature_extraction").glob("*.py")):
        wrong += [f"{path.relative_to(ROOT)} imports {n}" for n in _package_imports(path)
                  if n.startswith("actionhas") and n.split(".")[1:2] not in (["core"], ["formats"])]
    assert not wrong, wrong
