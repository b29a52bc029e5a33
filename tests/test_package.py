"""The package as installed: one top-level name, assets as package data, the
``real-ensemble-lab`` command, extras that say when they are missing, and a checkout that
still runs ``python -m engine``.

The wheel test builds the wheel from a copy of the sources (the checkout stays untouched),
installs it with the core dependencies only, pinned by the lock, into a fresh venv (not
--system-site-packages: a missing dependency must show), and runs the command from another
folder. It needs the package registry (CI has it) and the build backend from the lock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

from real_ensemble_lab import cli
from real_ensemble_lab.engine.tools import cli as engine_cli
from tests._app_fixtures import ROOT

SOURCES = ("pyproject.toml", "README.md", "real_ensemble_lab", "engine", "app", "assets")
ASSET_FILES = ("presets.yaml", "lessons.yaml", "logo.svg", "studies/drift_vs_N.yaml")


# --- in the checkout ----------------------------------------------------------------------


def test_python_m_engine_in_a_checkout_loads_the_engine_once():
    """`python -m engine` (the checkout's folder) runs real_ensemble_lab.engine's command
    line; no module is loaded a second time under the name `engine`."""
    code = ("import atexit, runpy, sys; atexit.register(lambda: print(sorted(m for m in "
            "sys.modules if m.split('.')[0] == 'engine'), file=sys.stderr)); "
            "sys.argv = ['engine', 'presets']; runpy.run_module('engine', run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "two_level:" in out.stdout
    assert out.stderr.strip().splitlines()[-1] == "['engine']"


def test_console_script_help_lists_serve_and_the_engine_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: real-ensemble-lab")
    for command in ("serve", "run", "sweep", "lesson", "presets", "bench"):
        assert command in text
    with pytest.raises(SystemExit) as exc:
        cli.main(["serve", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--allow-websocket-origin" in text and "panel serve" in text


def test_serve_builds_the_panel_command(monkeypatch):
    monkeypatch.delenv("BOKEH_ALLOW_WS_ORIGIN", raising=False)
    ns, rest = cli.serve_parser().parse_known_args(["--port", "5010", "--num-procs", "2"])
    argv = cli.panel_argv(ns, rest)
    assert argv[:2] == ["panel", "serve"] and Path(argv[2]).name == "app"
    assert (Path(argv[2]) / "main.py").is_file()
    assert argv[argv.index("--plugins") + 1] == "real_ensemble_lab.app.routes"
    assert "--allow-websocket-origin=localhost:5010" in argv
    assert argv[-2:] == ["--num-procs", "2"]  # unknown options go to panel serve
    monkeypatch.setenv("BOKEH_ALLOW_WS_ORIGIN", "lab.example.org")
    argv = cli.panel_argv(*cli.serve_parser().parse_known_args([]))
    assert not any(a.startswith("--allow-websocket-origin") for a in argv)


def test_serve_without_the_app_extra_says_which_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "panel", None)  # as if it were not installed
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("pip install 'real-ensemble-lab[app]'.") and "\n" not in err


def test_a_missing_extra_is_one_sentence_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    rc = engine_cli.main(["run", "--preset", "two_level", "--N", "10", "--t-end", "0.1",
                          "--out", str(tmp_path / "r.parquet")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert "pyarrow" in err and "pip install 'real-ensemble-lab[studies]'" in err
    assert not (tmp_path / "r.parquet").exists()


def test_assets_are_package_data():
    from importlib.resources import files

    from real_ensemble_lab.engine.core import presets

    assets = files("real_ensemble_lab.assets")
    for name in ASSET_FILES:
        assert (assets / name).is_file(), name
    if not os.environ.get("REAL_ENSEMBLE_ASSETS"):
        assert Path(str(presets.ASSETS)) == Path(str(assets))


# --- the wheel ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built by the locked setuptools from a copy of the sources."""
    if Version(version("setuptools")) < Version("77"):
        pytest.fail("setuptools >= 77 (requirements/lock.txt) is needed: run `make install`")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp / "dist"), str(src)],
                   check=True, timeout=300)
    (whl,) = (tmp / "dist").glob("real_ensemble_lab-*.whl")
    return whl


def test_wheel_holds_one_package_with_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"real_ensemble_lab"}, tops
    for name in ASSET_FILES:
        assert f"real_ensemble_lab/assets/{name}" in names, name
    assert "real_ensemble_lab/app/style.css" in names
    for name in ("join.html", "join.css", "join.js"):  # the students' phone page
        assert f"real_ensemble_lab/app/rooms/static/{name}" in names, name
    assert not any(n.endswith(".png") for n in names), "the README's screenshot stays out"
    # every module of the checkout is in the wheel (a new subpackage must be listed in
    # pyproject.toml's [tool.setuptools] packages)
    for folder in ("engine", "app"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).as_posix()
            assert f"real_ensemble_lab/{folder}/{rel}" in names, f"{folder}/{rel} not packaged"
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "real-ensemble-lab = real_ensemble_lab.cli:main" in \
        zipfile.ZipFile(wheel).read(entry).decode()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheel_installs_and_runs_from_anywhere(wheel, tmp_path):
    t0 = time.perf_counter()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py, exe = venv / "bin" / "python", venv / "bin" / "real-ensemble-lab"
    # the core dependencies only, at the versions the lock pins
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-c", str(ROOT / "requirements" / "lock.txt"), str(wheel)],
                   check=True, timeout=600)
    installed = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*args], cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=timeout)

    out = run(str(exe), "presets")
    assert out.returncode == 0 and "two_level:" in out.stdout, out.stderr
    out = run(str(exe), "run", "--preset", "two_level", "--N", "100", "--t-end", "0.2",
              "--dt-out", "0.1", "--seed", "1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "t,n_0,n_1,p_0,p_1,tv"
    assert len(out.stdout.splitlines()) == 4
    out = run(str(exe), "serve", "--help")
    assert out.returncode == 0 and "--port" in out.stdout, out.stderr
    # the extras the core install lacks: one sentence naming the extra, exit 2
    out = run(str(exe), "serve")
    assert out.returncode == 2 and "real-ensemble-lab[app]" in out.stderr, out.stderr
    out = run(str(exe), "run", "--preset", "two_level", "--N", "10", "--t-end", "0.1",
              "--out", "r.parquet")
    assert out.returncode == 2 and "real-ensemble-lab[studies]" in out.stderr, out.stderr
    # the installed tree: one top-level package, its data beside it, no UI module loaded
    code = ("import importlib.util as u, sys, real_ensemble_lab as r, real_ensemble_lab.engine; "
            "from importlib.resources import files; "
            "print(u.find_spec('engine'), u.find_spec('app'), len(r.__path__)); "
            "print(files('real_ensemble_lab.assets')); "
            "print([m for m in ('panel', 'bokeh', 'pandas', 'pyarrow') if m in sys.modules])")
    out = run(str(py), "-c", code)
    assert out.returncode == 0, out.stderr
    specs, assets, ui = out.stdout.splitlines()
    assert specs == "None None 1" and ui == "[]"
    site = Path(assets).parent.parent
    assert Path(assets) == site / "real_ensemble_lab" / "assets" and site.name == "site-packages"
    assert not (site / "engine").exists() and not (site / "app").exists()
    assert (Path(assets) / "presets.yaml").is_file()
    print(f"venv and install {installed - t0:.1f} s, commands "
          f"{time.perf_counter() - installed:.1f} s")
