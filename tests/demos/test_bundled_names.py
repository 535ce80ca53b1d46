"""Bundled model names win over what the working directory holds (issue 13, item 13): a `digits/`
or `street/` folder beside the user does not shadow the bundled models or break `drid demo`."""

from __future__ import annotations

import pytest

from drid.recognize.bundle import BUNDLED_MODELS, bundled_model_names, resolve_model_path


@pytest.fixture
def crowded(tmp_path, monkeypatch):
    for name in ("digits", "street"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "notes.txt").write_text("a user's folder")
    (tmp_path / "street.keras").write_bytes(b"a user's own file")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_bare_names_are_the_bundled_models_whatever_the_folder_holds(crowded):
    assert {"digits", "street"} <= set(bundled_model_names())
    assert resolve_model_path("digits") == BUNDLED_MODELS / "digits.keras"
    assert resolve_model_path("street") == BUNDLED_MODELS / "street.keras"
    assert resolve_model_path("bundled:street") == BUNDLED_MODELS / "street.keras"
    # the user's file is theirs when spelled as a file
    assert resolve_model_path("street.keras").resolve() == crowded / "street.keras"
    assert resolve_model_path("./street.keras").resolve() == crowded / "street.keras"


def test_wrong_bundled_names_list_the_real_ones(crowded):
    with pytest.raises(ValueError, match=r"no model file 'digitz' and no bundled model of that name \(bundled: .*digits"):
        resolve_model_path("digitz")
    with pytest.raises(ValueError, match=r"'bundled:../x': a bundled model is named by a bare word"):
        resolve_model_path("bundled:../x")
    with pytest.raises(ValueError, match="no bundled model of that name"):
        resolve_model_path("bundled:nope")


def test_the_digits_demo_runs_beside_a_digits_folder(crowded, capsys):
    from drid.cli import main

    assert main(["demo", "digits", "--out", str(crowded / "out")]) == 0
    out = capsys.readouterr().out
    assert "read correctly" in out and (crowded / "out" / "demo-digits" / "page.annotated.png").is_file()
