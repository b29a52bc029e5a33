"""The app's data folder (engine/studies/datadir.py) and the Studies page kept inside it
(issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from real_ensemble_lab.engine.core.errors import InputError
from real_ensemble_lab.engine.studies.datadir import (
    APP_DIR,
    ENV,
    data_dir,
    resolve_inside,
    result_dirs,
)
from tests._studies_data import make_results, results  # noqa: F401 - a fixture


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv(ENV, str(d))
    return d


def one_sentence(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and text.endswith(".") and text.count(". ") == 0, text
    return text


# --- where the data folder is ----------------------------------------------------------------

def test_the_environment_variable_names_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path / "lab"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == (tmp_path / "lab").resolve()
    assert not (tmp_path / "lab").exists()  # found, not made
    assert data_dir(create=True).is_dir()


def test_without_it_the_xdg_data_home(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == (tmp_path / "xdg" / APP_DIR).resolve()
    # unset, or relative (invalid in the XDG spec): ~/.local/share
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for xdg in ("", "relative/share"):
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
        assert data_dir() == (tmp_path / "home" / ".local" / "share" / APP_DIR).resolve()


def test_a_data_folder_that_is_a_file_is_refused(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv(ENV, str(tmp_path / "file"))
    with pytest.raises(InputError) as err:
        data_dir()
    assert "is not a folder" in one_sentence(err)


# --- paths inside it ------------------------------------------------------------------------

def test_relative_and_absolute_paths_inside_are_resolved(data):
    assert resolve_inside("studies/a") == data / "studies" / "a"
    assert resolve_inside(str(data / "studies" / "a")) == data / "studies" / "a"
    assert resolve_inside("studies/../b") == data / "b"  # .. that stays inside is fine
    assert resolve_inside("~") == data / "~"  # a name here, not the server's home


@pytest.mark.parametrize("text", ["..", "../other", "studies/../../other", "/etc",
                                  "/", "//etc/passwd", "studies/../../../../../tmp"])
def test_paths_that_land_outside_are_refused(data, text):
    with pytest.raises(InputError) as err:
        resolve_inside(text)
    assert "outside the data folder" in one_sentence(err)


def test_an_absolute_path_beside_the_data_folder_is_refused(data):
    # same prefix, another folder: /…/data-evil is not inside /…/data
    (data.parent / "data-evil").mkdir()
    with pytest.raises(InputError):
        resolve_inside(str(data.parent / "data-evil"))


def test_a_symbolic_link_that_leads_out_is_refused(data, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (data / "escape").symlink_to(outside, target_is_directory=True)
    (data / "inner").mkdir()
    (data / "alias").symlink_to(data / "inner", target_is_directory=True)
    for text in ("escape", "escape/results", str(data / "escape")):
        with pytest.raises(InputError) as err:
            resolve_inside(text)
        one_sentence(err)
    assert resolve_inside("alias") == data / "inner"  # a link that stays inside is fine


def test_empty_and_nul_are_refused(data):
    for text in ("", "  ", "a\x00b"):
        with pytest.raises(InputError) as err:
            resolve_inside(text)
        one_sentence(err)


def test_the_engine_module_loads_no_ui():
    code = ("import sys, real_ensemble_lab.engine.studies.datadir, "
            "real_ensemble_lab.app.studies_links; "
            "bad = [m for m in ('panel', 'bokeh', 'holoviews') if m in sys.modules]; "
            "assert not bad, bad")
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root,
                   env={**os.environ, "PYTHONPATH": str(root)})


# --- the Studies page lists and loads only folders inside it ------------------------------------

def test_listing_shows_only_folders_inside(data, tmp_path, results):  # noqa: F811
    make_results(data / "studies" / "tiny", copy_from=results)
    make_results(tmp_path / "outside" / "res", copy_from=results)
    (data / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    (data / "studies" / "empty").mkdir()  # no summary/: not a results folder
    assert result_dirs() == ["studies/tiny"]

    from real_ensemble_lab.app.studies import StudiesView

    view = StudiesView()
    assert view._dir_select.options == ["", "studies/tiny"]
    assert view.directory == "studies/tiny" and "4 runs" in view.message.object
    for text in (str(tmp_path / "outside" / "res"), "linked/res", "../outside/res"):
        view.directory = text
        assert view.summary.empty and view._heat.object is None
        assert view.message.object.startswith(f"**The folder {text!r} is outside the data "
                                              f"folder")
