"""The 20-line rule checker: what it counts, what it prints, how it exits."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tools.devtools import function_length

ROOT = Path(__file__).resolve().parents[2]


def body(lines: int, docstring: bool = False) -> str:
    doc = '    """Explain.\n\n    More.\n    """\n' if docstring else ""
    statements = "".join(f"    x{i} = {i}\n" for i in range(lines))
    return doc + statements


def check(source: str, limit: int = 20) -> list[tuple[str, int]]:
    found = function_length.violations(textwrap.dedent(source), Path("m.py"), limit)
    return [(v.name, v.length) for v in found]


def test_twenty_lines_pass_twenty_one_fail() -> None:
    assert check("def ok():\n" + body(20)) == []
    assert check("def long():\n" + body(21)) == [("long", 21)]


def test_docstring_is_not_counted_but_everything_after_the_signature_is() -> None:
    assert check("def f():\n" + body(20, docstring=True)) == []
    multiline_signature = "def f(\n    a,\n    b,\n):\n" + body(21)
    assert check(multiline_signature) == [("f", 21)]


def test_methods_async_and_nested_functions_are_each_checked() -> None:
    source = "class C:\n    def m(self):\n" + textwrap.indent(body(21), "    ")
    source += "async def a():\n" + body(22)
    source += (
        "def outer():\n    def inner():\n"
        + textwrap.indent(body(21), "    ")
        + "    return inner\n"
    )
    assert sorted(check(source)) == [("a", 22), ("inner", 21), ("m", 21), ("outer", 23)]


def test_cli_prints_path_line_name_length_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("x = 1\n\ndef long():\n" + body(25))
    (tmp_path / "pkg" / "fine.py").write_text("def short():\n" + body(3))
    assert function_length.main([str(tmp_path / "pkg")]) == 1
    assert capsys.readouterr().out == f"{tmp_path / 'pkg' / 'mod.py'}:3 long 25\n"
    assert function_length.main([str(tmp_path / "pkg" / "fine.py")]) == 0
    assert function_length.main(["--max", "30", str(tmp_path / "pkg")]) == 0


def test_the_project_itself_obeys_the_rule() -> None:
    assert function_length.main([str(ROOT / "src")]) == 0
