"""The gate functions read from a file's source are the functions pytest collects from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_loadcert.plugin.gatedefs import gate_functions

CASES = """\
import pytest

def test_plain(): pass
def testnounderscore(): pass
def helper_test(): pass
async def test_async(): pass
test_lambda = lambda: None

@pytest.fixture
def test_fixture_named_like_a_test(): return 1

@pytest.mark.parametrize("x", [1, 2])
def test_param(x): pass

def test_dup(): pass
def test_dup(): pass

def not_named_but_marked(): pass
not_named_but_marked.__test__ = True

def test_switched_off(): pass
test_switched_off.__test__ = False

if True:
    def test_conditional(): pass
else:
    def test_other_branch(): pass

try:
    def test_in_try(): pass
except ImportError:
    pass

class TestA:
    def test_m1(self): pass
    @staticmethod
    def test_static(): pass
    @classmethod
    def test_cls(cls): pass
    def helper(self): pass
    class TestNested:
        def test_inner(self): pass
    class Helper:
        def test_not_collected(self): pass

class TestBase:
    def test_base(self): pass

class TestChild(TestBase):
    def test_child(self): pass

class Tests_lowercase_prefix:
    def test_z(self): pass

class TestWithInit:
    def __init__(self): pass
    def test_never(self): pass

class TestOff:
    __test__ = False
    def test_never(self): pass

def outer():
    def test_inner_function(): pass
"""


def collected(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest("--co", "-q", "-p", "no:cacheprovider", "-W", "ignore", *args)
    prefix = "test_cases.py::"
    names = [line[len(prefix) :] for line in result.outlines if line.startswith(prefix)]
    return list(dict.fromkeys(name.split("[", 1)[0] for name in names))


@pytest.mark.parametrize(
    ("functions", "classes"), [(["test"], ["Test"]), (["check", "test_p*"], ["*A", "TestB*"])]
)
def test_the_source_gives_the_functions_pytest_collects(
    pytester: pytest.Pytester, functions: list[str], classes: list[str]
) -> None:
    path: Path = pytester.makepyfile(test_cases=CASES)
    pytester.makeini(
        f"[pytest]\npython_functions = {' '.join(functions)}\n"
        f"python_classes = {' '.join(classes)}\n"
    )
    expected = gate_functions(path, functions, classes)
    found = collected(pytester)
    # Under ``if``, the file itself decides (the source cannot tell which branch runs):
    # collected, not expected. Everything else is expected exactly as pytest collects it.
    conditional = ["test_conditional"] if "test" in functions else []
    assert expected == [name for name in found if name not in conditional]
    assert "test_other_branch" not in expected + found
