"""The README is the front door: every command it shows parses with the flags the command has today."""
import importlib
import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> list[str]:
    """Each ``python -m actionhas...`` line of the README's shell blocks, continuations joined."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [line.split("python -m ", 1)[1].split(" #")[0] for line in lines
            if "python -m actionhas" in line and not line.lstrip().startswith("#")]


def test_the_readme_shows_every_command():
    shown = {c.split()[0] for c in _commands()}
    assert {"actionhas.extract", "actionhas.train", "actionhas.localize", "actionhas.evaluate", "actionhas.report",
            "actionhas.detect", "actionhas.demo", "actionhas.image.train", "actionhas.image.evaluate"} <= shown


@pytest.mark.parametrize("command", _commands())
def test_readme_command_parses(command):
    module, *args = shlex.split(command.replace("$hide", "0.5").replace("$seed", "0"))
    command_module = importlib.import_module(module)
    parse = getattr(command_module, "parse_args", None) or command_module.build_parser().parse_args
    parse(args)
