"""The package's shape: thin commands that never import each other, small modules, defaults in --help."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("command", [[m] for m in COMMANDS if m != "actionhas.extract"]
                         + [["actionhas.extract", sub] for sub in ("c3d", "merge", "import")])
def test_help_shows_every_default(command):
    out = subprocess.run([sys.executable, "-m", *command, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "(default:" in out.stdout


def test_torch_files_are_read_in_one_place_without_unpickling_code():
    """Every torch.load of the package goes through actionhas.formats.torch_files, which passes weights_only=True."""
    readers = [str(path.relative_to(ROOT)) for folder in ("actionhas", "feature_extraction")
               for path in sorted((ROOT / folder).rglob("*.py")) if "torch.load(" in path.read_text()]
    assert readers == ["actionhas/formats/torch_files.py"]
    assert "weights_only=True" in (ROOT / "actionhas" / "torch_files.py").read_text()
