"""The image's CMD, run as the image runs it (issue 17, item 7), without a Docker engine.

- **Installed, not editable.** The wheel is built from a copy of the sources (the wheel
  fixture of tests/test_package.py) and installed with ``pip install --no-deps --target
  DIR``; the server runs with ``PYTHONPATH=DIR`` on this checkout's venv, whose
  site-packages hold exactly the locked dependency versions (``make install`` installs
  requirements/lock.txt, a superset of the image's lock-runtime.txt). The venv also holds
  the checkout's editable install; a check below shows that with ``PYTHONPATH=DIR`` the
  package is still imported from DIR (its finder only answers what the path does not).
- **Non-root.** As uid/gid 10001 (the image's ``lab`` user) through util-linux ``setpriv``
  when the tests run as root; a run that is not root already is non-root and runs as
  itself. A venv whose base interpreter lies in a folder other users cannot enter (pyenv
  under /root) is run through a copy of that interpreter and its standard library, beside
  a venv folder whose ``lib`` is the venv's own (so: the same site-packages, the same TBB).
- **From a read-only checkout.** The working folder is a copy of the checkout that nobody
  may write (``chmod -R a-w``); the test asserts that nothing in it changed.
- **With the data directory set.** ``REAL_ENSEMBLE_LAB_DATA`` is a folder owned by uid
  10001, HOME another; the Dockerfile's ENV values apply (paths moved into HOME), and its
  build-time step that compiles the numba kernels into the cache runs first, as that user.
- **The CMD exactly**, parsed from the Dockerfile as tests/test_docker_cmd.py does; only
  ``--address`` and ``--port`` change (127.0.0.1, a free port). ``real-ensemble-lab`` is
  found on PATH, in DIR/bin, the console script pip wrote.

One browser session plays and runs a small sweep from the Studies page (the first study,
one seed); its results land under the data folder. A second server runs under an
address-space cap (``prlimit --as``) with a 64 MiB memory budget: a link asking for 10^8
agents is answered with the sentence that caps N, the page renders and plays the capped
ensemble, and the server lives.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests._app_fixtures import ROOT, free_port, get, get_json, open_tab, serve
from tests.test_app_browser import (  # noqa: F401 - pytest-playwright fixtures
    PLOTS,
    browser_context_args,
    browser_type_launch_args,
)
from tests.test_docker_cmd import dockerfile_cmd, dockerfile_env
from tests.test_package import wheel  # noqa: F401 - the module's fixture

pytestmark = pytest.mark.timeout(420)

#: The image's user (Dockerfile: useradd --uid 10001, USER 10001:10001).
LAB_UID = 10001
#: The address-space cap of the memory-limited run. Measured here (2 cores): the capped
#: server's virtual size peaks near 2.2 GiB (VmPeak) while it serves the capped agents
#: ensemble and plays it (numba's kernels, TBB's threads, a Bokeh session); 4 GiB leaves
#: room for a few more sessions, and an unchecked 10^7-agent ensemble would not fit beside.
AS_CAP = 4 * 2**30
SETPRIV = shutil.which("setpriv")
PRLIMIT = shutil.which("prlimit")
#: What the checkout copy leaves out: version control, the venv, caches, build outputs.
NOT_COPIED = (".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache",
              "test-results", "results", "node_modules", "build", "dist", "*.egg-info")


@dataclass
class Image:
    """What the image holds, laid out here."""

    root: Path  # everything below, removed at the end
    site: Path  # DIR: the package installed from the wheel
    python: Path  # the venv's interpreter (or its copy other users can run)
    checkout: Path  # the read-only copy of the checkout: the working folder
    home: Path
    data: Path
    env: dict[str, str]  # the server's environment
    as_user: list[str]  # the command prefix that drops root ([] when not root)

    def argv(self, port: int) -> list[str]:
        """The Dockerfile's CMD with only the address and the port changed."""
        argv = dockerfile_cmd()
        argv[argv.index("--address") + 1] = "127.0.0.1"
        argv[argv.index("--port") + 1] = str(port)
        return [*self.as_user, *argv]

    def run(self, *args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, *args], cwd=cwd or self.home,
                              env=env or self.env, capture_output=True, text=True,
                              timeout=timeout)


def _tree(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``folder`` with its size, mtime and mode."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


def _runs_as_lab(prefix: list[str], python: Path, base: str, env: dict[str, str]) -> str | None:
    """None when the lab user can run ``python`` with the app's dependencies and its own
    standard library (under ``base``), else why not. (An interpreter that cannot read its
    standard library may still start, with another Python's found on the way: not this.)"""
    out = subprocess.run([*prefix, str(python), "-c", "import sys, numba, panel; "
                          "print(sys.base_prefix)"], env={"PATH": "/usr/bin:/bin",
                                                          "HOME": "/tmp", **env},
                         cwd="/", capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        return (out.stderr.strip().splitlines() or ["?"])[-1]
    if out.stdout.strip() != base:
        return f"it finds its standard library in {out.stdout.strip()}, not in {base}"
    return None


def _interpreter_for(prefix: list[str], root: Path) -> tuple[Path, dict[str, str]]:
    """The venv's interpreter when the lab user can run it; else a copy of its base
    interpreter and standard library beside a venv folder whose lib/ is the venv's own.
    Returns the interpreter and the environment it needs (LD_LIBRARY_PATH for a copied
    libpython)."""
    venv_python = Path(sys.prefix) / "bin" / "python"
    why = _runs_as_lab(prefix, venv_python, sys.base_prefix, {}) if prefix else None
    if why is None:
        return venv_python, {}
    base, venv = root / "python-base", root / "venv"
    stdlib = Path(sysconfig.get_paths(vars={"base": sys.base_prefix,
                                            "installed_base": sys.base_prefix})["stdlib"])
    (base / "bin").mkdir(parents=True)
    exe = base / "bin" / Path(os.path.realpath(sys._base_executable)).name
    shutil.copy2(os.path.realpath(sys._base_executable), exe)
    shutil.copytree(stdlib, base / "lib" / stdlib.name, symlinks=True,
                    ignore=shutil.ignore_patterns("site-packages", "dist-packages", "test",
                                                  "idlelib", "tkinter", "turtledemo",
                                                  "ensurepip", "config-*"))
    extra: dict[str, str] = {}
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        so = Path(sysconfig.get_config_var("LIBDIR")) / sysconfig.get_config_var("INSTSONAME")
        shutil.copy2(so, base / "lib" / so.name)
        extra["LD_LIBRARY_PATH"] = str(base / "lib")
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(exe)
    (venv / "lib").symlink_to(Path(sys.prefix) / "lib")  # site-packages, libtbb
    (venv / "pyvenv.cfg").write_text(f"home = {base / 'bin'}\ninclude-system-site-packages "
                                     f"= false\nversion = {sys.version.split()[0]}\n")
    python = venv / "bin" / "python"
    why_copy = _runs_as_lab(prefix, python, str(base), extra)
    if why_copy is not None:
        pytest.skip(f"uid {LAB_UID} cannot run the venv's interpreter {venv_python} ({why}), "
                    f"nor a copy of its base interpreter ({why_copy})")
    return python, extra


@pytest.fixture(scope="module")
def image(wheel) -> Iterator[Image]:  # noqa: F811 - the fixture
    """The installed package, the interpreter, HOME, the data folder and the read-only
    checkout, all under one folder other users may enter (pytest's own temp folder is
    private to root)."""
    if os.geteuid() == 0:
        if SETPRIV is None:
            pytest.skip("running as root without util-linux setpriv: cannot drop to the "
                        "image's non-root user")
        as_user = [SETPRIV, f"--reuid={LAB_UID}", f"--regid={LAB_UID}", "--clear-groups"]
        uid = LAB_UID
    else:  # already non-root: the run is non-root as it is
        as_user, uid = [], os.geteuid()
    root = Path(tempfile.mkdtemp(prefix="rel-image-"))
    try:
        root.chmod(0o755)
        python, extra = _interpreter_for(as_user, root)
        site = root / "site"
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                        "--disable-pip-version-check", "--target", str(site), str(wheel)],
                       check=True, timeout=300, env={**os.environ, **extra,
                                                     "PYTHONPATH": ""})
        checkout = root / "checkout"
        shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(*NOT_COPIED))
        home, data = root / "home", root / "data"
        home.mkdir()
        data.mkdir()
        os.chown(home, uid, uid)
        os.chown(data, uid, uid)
        subprocess.run(["chmod", "-R", "a+rX", str(site)], check=True)
        subprocess.run(["chmod", "-R", "a-w", str(checkout)], check=True)
        image_env = dockerfile_env()
        env = {
            # a container's environment: the Dockerfile's ENV, nothing from this shell
            **image_env,
            "PATH": f"{site / 'bin'}:{python.parent}:/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": str(site),
            "HOME": str(home),
            "NUMBA_CACHE_DIR": str(home / ".cache" / "numba"),
            "REAL_ENSEMBLE_LAB_DATA": str(data),
            "LANG": "C.UTF-8",
            **extra,
        }
        assert image_env["REAL_ENSEMBLE_LAB_DATA"] == "/data"
        assert image_env["NUMBA_CACHE_DIR"].startswith("/home/lab/")
        yield Image(root, site, python, checkout, home, data, env, as_user)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(root)], check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def compiled(image) -> Image:
    """The Dockerfile's build step that fills the numba cache, run as the lab user."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    (step,) = re.findall(r'^RUN python -c "(.*)"\s*$', text, re.M)
    out = image.run(str(image.python), "-c", step)
    assert out.returncode == 0, out.stderr
    assert any((image.home / ".cache" / "numba").rglob("*.nbi")), "nothing was cached"
    return image


def test_the_installed_package_is_imported_not_the_checkout(image):
    """With PYTHONPATH=DIR the package comes from DIR, from any working folder, though the
    venv's editable install (its finder) would give the checkout's."""
    probe = image.home / "where.py"
    probe.write_text("import real_ensemble_lab, real_ensemble_lab.app as a; "
                     "print(real_ensemble_lab.__file__); print(list(real_ensemble_lab.__path__));"
                     " print(a.__file__)")
    # as the console script runs: a script, the read-only checkout the working folder
    out = image.run(str(image.python), str(probe), cwd=image.checkout)
    assert out.returncode == 0, out.stderr
    init, path, app = out.stdout.splitlines()
    assert Path(init) == image.site / "real_ensemble_lab" / "__init__.py"
    assert json.loads(path.replace("'", '"')) == [str(image.site / "real_ensemble_lab")]
    assert Path(app).is_relative_to(image.site)
    # without DIR on the path the same interpreter imports another copy (the editable one)
    out = image.run(str(image.python), str(probe), env={**image.env, "PYTHONPATH": ""})
    if out.returncode == 0:
        assert not Path(out.stdout.splitlines()[0]).is_relative_to(image.site)
    script = image.site / "bin" / "real-ensemble-lab"
    assert script.read_text().splitlines()[0] == f"#!{image.python}"
    # the user is the image's, and may not write into the checkout
    out = image.run(str(image.python), "-c", "import os; print(os.getuid(), os.getgid(), "
                    "os.getgroups(), os.access('.', os.W_OK))", cwd=image.checkout)
    uid = LAB_UID if image.as_user else os.geteuid()
    assert out.stdout.split() == [str(uid), str(uid if image.as_user else os.getgid()),
                                  "[]" if image.as_user else out.stdout.split()[2], "False"]


@pytest.mark.browser
def test_the_cmd_serves_a_session_that_plays_and_sweeps(compiled, page):
    from playwright.sync_api import expect

    image = compiled
    before = _tree(image.checkout)
    port = free_port()
    env = {**image.env, "BOKEH_ALLOW_WS_ORIGIN": f"127.0.0.1:{port}"}
    with serve(image.argv(port), port, env=env, cwd=image.checkout) as base:
        assert get_json(base + "/liveness") == {"/liveness": True}
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        page.goto(base + "/app")
        expect(page.locator(".rel-status .rel-time")).to_have_text("0.00", timeout=90_000)
        page.locator(".rel-play button").click()
        expect(page.locator(".rel-play button")).to_have_text("Pause")
        expect(page.locator(".rel-time")).not_to_have_text("0.00", timeout=60_000)
        page.locator(".rel-play button").click()
        expect(page.locator(".rel-play button")).to_have_text("Play")

        # the Studies page: the first study with one seed, run on a local Dask cluster
        open_tab(page, "Studies")
        expect(page.locator(".studies-message")).to_contain_text("Choose a results folder")
        seeds = page.locator(".bk-input-group", has_text="Seeds").locator(".noUi-handle")
        seeds.focus()
        seeds.press("Home")
        expect(page.locator(".bk-input-group", has_text="Seeds")).to_contain_text("Seeds: 1")
        page.get_by_role("button", name="Run sweep").click()
        ended = page.get_by_text(re.compile(r"^Done: \d+ runs computed|The sweep failed"))
        expect(ended).to_be_visible(timeout=240_000)
        assert re.match(r"Done: 16 runs computed, 0 already there, 0 failed, in [\d.]+ s",
                        ended.text_content()), ended.text_content()
        rel = "studies/drift_vs_N-page-1seeds"
        expect(page.locator(".studies-message")).to_contain_text(f"16 runs in {rel}")
        assert errors == []

    out = image.data / rel
    assert (out / "sweep.json").is_file()
    assert any((out / "summary").glob("*.parquet")) and any((out / "series").rglob("*.parquet"))
    owner = LAB_UID if image.as_user else os.geteuid()
    assert {p.stat().st_uid for p in out.rglob("*")} == {owner}
    assert _tree(image.checkout) == before, "the server wrote into the read-only checkout"


@pytest.mark.browser
@pytest.mark.skipif(PRLIMIT is None, reason="util-linux prlimit is not installed")
def test_a_memory_capped_server_caps_an_oversized_N_and_lives(compiled, page):
    from playwright.sync_api import expect

    from real_ensemble_lab.app.widgets import fmt_N

    image = compiled
    port = free_port()
    env = {**image.env, "BOKEH_ALLOW_WS_ORIGIN": f"127.0.0.1:{port}",
           "REAL_ENSEMBLE_LAB_MEMORY_BUDGET": "64M"}
    argv = [PRLIMIT, f"--as={AS_CAP}", "--", *image.argv(port)]
    out = subprocess.run([*argv[:3], *image.as_user, str(image.python), "-c",
                          "import resource; print(resource.getrlimit(resource.RLIMIT_AS))"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"({AS_CAP}, {AS_CAP})", out.stderr
    with serve(argv, port, env=env, cwd=image.checkout) as base:
        page.goto(base + "/app?mode=agents&N=100000000")
        expect(page.locator(".rel-status .rel-time")).to_have_text("0.00", timeout=90_000)
        cost = page.locator(".rel-notice.rel-cost")
        expect(cost).to_contain_text(re.compile(
            r"N = 10,000,000 would not fit in this server's memory for ensembles \(64 MiB\), "
            r"so N = [\d,]+ is used\."))
        # the link follows the N that runs: the slider's value, at most 10^7
        expect(page).not_to_have_url(re.compile(r"N=100000000\b"))
        capped = int(parse_qs(urlsplit(page.url).query)["N"][0])
        assert 0 < capped < 10_000_000
        expect(cost).to_contain_text(f"so N = {capped:,} is used.")
        expect(page.locator(".rel-N")).to_have_text(fmt_N(capped))
        expect(page.locator(".rel-mode")).to_have_text("agents")
        for k in PLOTS:
            expect(page.locator(f".rel-plot-{k} canvas").first).to_be_visible()
        # the capped ensemble runs: numba's parallel kernels and TBB's threads under the cap
        page.locator(".rel-play button").click()
        expect(page.locator(".rel-time")).not_to_have_text("0.00", timeout=60_000)
        page.locator(".rel-play button").click()
        expect(page.locator(".rel-play button")).to_have_text("Play")
        # the server lives: its liveness and a second page
        assert get_json(base + "/liveness") == {"/liveness": True}
        status, html = get(base + "/app", timeout=60)
        assert status == 200 and "Real Ensemble Lab" in html
        second = page.context.new_page()
        second.goto(base + "/app")
        expect(second.locator(".rel-status .rel-time")).to_have_text("0.00", timeout=90_000)
        second.close()
