"""`render` is the only place in the CLI that prints."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

from sigmoidnet.cli import render
from tests.cli.util import invoke

CLI = Path(render.__file__).parent
# calls that write to the terminal
PRINTING = {"print", "typer.echo", "click.echo", "click.secho", "typer.secho"}
STREAMS = ("sys.stdout", "sys.stderr", "sys.__stdout__", "sys.__stderr__")


def dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return "?"


def printing_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            writes = name.startswith(STREAMS) and name.endswith((".write", ".writelines"))
            if name in PRINTING or writes or name.endswith(("Console", ".print")):
                found.append(f"{path.name}:{node.lineno}: {name}")
    return found


def test_only_render_prints() -> None:
    modules = sorted(CLI.glob("*.py"))
    assert {"__init__.py", "activate.py", "render.py", "train.py"} <= {p.name for p in modules}
    found = [call for p in modules if p.name != "render.py" for call in printing_calls(p)]
    assert found == []
    assert printing_calls(CLI / "render.py")  # the check sees what it looks for


def test_a_rich_console_hands_a_broken_pipe_to_the_boundary() -> None:
    class Closed(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    console = render._console()
    console.file = Closed()
    with pytest.raises(BrokenPipeError):  # not rich's own SystemExit(1)
        console.print("x")


def test_an_error_stays_on_one_line_whatever_the_file_name(tmp_path: Path) -> None:
    folder = tmp_path / "two\nlines\tand\x1b[31mred"
    folder.mkdir()
    code, _, stderr = invoke("eval", "--checkpoint", str(folder / "m.safetensors"))
    assert code == 4
    assert stderr.count("\n") == 1 and stderr.startswith("error: ")
    assert "two\\nlines\\tand\\x1b[31mred" in stderr
