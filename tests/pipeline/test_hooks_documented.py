"""Every hook has a reference docstring, a row in docs/plugins.md, and a test that calls it."""

from __future__ import annotations

import inspect

import pytest
from conftest import ROOT

from drid.pipeline import hookspecs

HOOKS = sorted(hookspecs.HOOKS)
DOCS = (ROOT / "docs" / "plugins.md").read_text()
TESTS = {p.name: p.read_text() for p in (ROOT / "tests").rglob("test_*.py") if p.name != "test_hooks_documented.py"}


def test_the_hook_list_is_complete():
    assert {"drid_detect", "drid_recognize", "drid_interpret", "drid_decide", "drid_frames", "drid_write", "drid_start", "drid_stop", "drid_act", "drid_learn"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_reference_docstring(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) > 150, f"{hook} needs a docstring saying what a plugin receives, returns, may assume and must not do"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_in_the_plugin_docs(hook):
    assert f"`{hook}`" in DOCS, f"{hook} is missing from docs/plugins.md"


def _doubles_implementing(hook: str) -> list[str]:
    """drid.testing classes that implement ``hook`` (the test doubles that ship with drid)."""
    import drid.testing
    from drid.pipeline.registry import hooks_of

    return [name for name, obj in vars(drid.testing).items() if inspect.isclass(obj) and hook in hooks_of(obj)]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook):
    users = [name for name, text in TESTS.items() if f"def {hook}(" in text]
    users += [f"{name} via {double}" for double in _doubles_implementing(hook) for name, text in TESTS.items() if f"{double}(" in text]
    assert users, f"no test implements {hook}, nor uses a drid.testing double that does"


@pytest.mark.parametrize("attribute", ["drid_name", "live", "labels", "batch_call"])
def test_informal_class_attributes_are_in_the_hook_manual(attribute):
    assert f"``{attribute}" in (hookspecs.__doc__ or ""), f"the hook manual (drid.pipeline.hookspecs) must document {attribute}"


def test_the_error_contract_is_in_the_hook_manual():
    manual = hookspecs.__doc__ or ""
    for name in ("ConfigError", "StageError", "SourceError", "before any frame is read", "detect[0]"):
        assert name in manual
