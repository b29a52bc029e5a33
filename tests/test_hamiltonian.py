"""Hamiltonians, presets, validation sentences and the exact reference."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from real_ensemble_lab.engine import (
    ExactEvolution,
    Hamiltonian,
    InputError,
    build_preset,
    preset_names,
)
from real_ensemble_lab.engine.core.presets import preset_defaults, preset_info


def test_split_into_E_R_delta():
    H = np.array([[1.0, 0.8 * np.exp(0.7j), 0], [0.8 * np.exp(-0.7j), 0.4, 0.6j],
                  [0, -0.6j, -1.0]])
    ham = Hamiltonian.from_matrix(H, [1, 1j, 0])
    assert np.allclose(ham.E, [1.0, 0.4, -1.0])
    assert np.isclose(ham.R[0, 1], 0.8) and np.isclose(ham.R[1, 0], 0.8)
    assert np.isclose(ham.delta[0, 1], 0.7) and np.isclose(ham.delta[1, 0], -0.7)
    assert np.isclose(ham.delta[1, 2], np.pi / 2)
    assert np.allclose(ham.R * np.exp(1j * ham.delta) + np.diag(ham.E), H)
    assert np.isclose(np.linalg.norm(ham.psi0), 1.0)  # normalised for the user


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_builds_with_defaults_and_bounds(name):
    info = preset_info(name)
    assert info["title"] and info["description"].count(".") >= 2
    ham = build_preset(name)
    assert np.allclose(ham.H, ham.H.conj().T)
    assert np.isclose(np.linalg.norm(ham.psi0), 1.0)
    for key, spec in info["params"].items():
        assert spec.get("doc"), key
        assert isinstance(spec["unit"], str), key  # "" for a pure number or a choice
        if "bounds" in spec:
            lo, hi = spec["bounds"]
            assert lo <= spec["default"] <= hi
            bad = hi + 1
            with pytest.raises(InputError, match=key):
                build_preset(name, **{key: bad})


def test_three_level_variants_and_ring_physics():
    for variant in ["ladder", "lambda", "V"]:
        ham = build_preset("three_level", variant=variant)
        assert (ham.R > 0).sum() == 4  # two couplings, both directions
    ring = build_preset("ring", P=32, potential="free", flux=0.0)
    # nearest-neighbour hopping 1/(2 m a^2) with the Laplacian's sign, on a ring
    t_hop = 1 / (2 * 1.0 * 0.5**2)
    assert np.isclose(ring.H[0, 1], -t_hop) and np.isclose(ring.H[0, 31], -t_hop)
    assert np.allclose(ring.E, 2 * t_hop)
    # free dispersion at long wavelength: lowest eigenvalues ~ k^2 / 2m
    lam = np.sort(np.linalg.eigvalsh(ring.H))
    k1 = 2 * np.pi / (32 * 0.5)
    assert np.isclose(lam[1], k1**2 / 2, rtol=0.02)
    h01 = build_preset("ring", flux=1.0, P=16).H[0, 1]
    assert np.isclose(h01 / abs(h01), np.exp(1j * (np.pi + 1 / 16)))


def test_random_preset_is_seeded():
    a, b = build_preset("random", matrix_seed=3), build_preset("random", matrix_seed=3)
    assert np.array_equal(a.H, b.H)
    assert not np.array_equal(a.H, build_preset("random", matrix_seed=4).H)


@pytest.mark.parametrize("data, words", [
    ({"H": [[0, 1], [2, 0]], "psi0": [1, 0]}, "H[0][1]"),
    ({"H": [[[0, 1], 0], [0, 0]], "psi0": [1, 0]}, "H[0][0]"),
    ({"H": [[0, 1, 0], [1, 0]], "psi0": [1, 0]}, "Row 1"),
    ({"H": [[0, 1], [1, 0]], "psi0": [1, 0, 0]}, "psi0 has 3"),
    ({"H": [[0, 1], [1, 0]], "psi0": [0, 0]}, "zero"),
    ({"H": [[0, "x"], [1, 0]], "psi0": [1, 0]}, "H[0][1]"),
    ({"H": [[1e400, 1], [1, 0]], "psi0": [1, 0]}, "H[0][0]"),
    ({"H": [[0, 1], [1, 0]], "psi0": [[1, float("nan")], 0]}, "psi0[0]"),
    ({"H": [[1]], "psi0": [1]}, "between 2 and 4096"),
    ({"H": [[0, 1], [1, 0]]}, "psi0"),
    ({"H": [[0, 1], [1, 0]], "psi0": [1, 0], "colour": 1}, "colour"),
])
def test_custom_json_errors_are_one_sentence_naming_the_entry(data, words):
    with pytest.raises(InputError) as err:
        Hamiltonian.from_dict(data)
    msg = str(err.value)
    assert words in msg
    assert msg.endswith(".") and "\n" not in msg


def test_hermitian_tolerance_is_relative_to_the_pair():
    Hamiltonian.from_matrix([[0, 1e5], [1e5 + 1e-5, 0]], [1, 0])  # 1e-10 relative: fine
    with pytest.raises(InputError, match="not Hermitian"):
        Hamiltonian.from_matrix([[0, 1e5], [1e5 + 1e-3, 0]], [1, 0])
    with pytest.raises(InputError, match="not Hermitian"):  # a big entry hides nothing
        Hamiltonian.from_matrix([[1e6, 1], [1.0005, 0]], [1, 0])
    with pytest.raises(InputError, match="too large"):
        Hamiltonian.from_matrix([[0, 1e6 + 1], [1e6 + 1, 0]], [1, 0])


def test_custom_json_round_trip(tmp_path):
    ham = build_preset("three_level")
    f = tmp_path / "h.json"
    f.write_text(json.dumps(ham.to_dict()))
    again = Hamiltonian.from_json(f)
    assert np.allclose(again.H, ham.H) and np.allclose(again.psi0, ham.psi0)
    assert Hamiltonian.from_dict({"H": [[0, 1], [1, 0]], "psi0": [3, [0, 4]],
                                  "labels": ["up", "down"]}).labels == ("up", "down")


def test_exact_reference_matches_taylor_series_and_evaluates_any_times():
    ham = build_preset("random", P=5, matrix_seed=2)
    ev = ExactEvolution.of(ham)
    t = 0.37
    # exp(-iHt) by a long Taylor series, independent of the eigendecomposition
    U, term = np.eye(5, dtype=complex), np.eye(5, dtype=complex)
    for k in range(1, 60):
        term = term @ (-1j * ham.H * t) / k
        U = U + term
    assert np.allclose(ev.psi(t), U @ ham.psi0, atol=1e-12)
    ts = [3.0, 0.0, 1.5]
    many = ev.psi(ts)
    assert many.shape == (3, 5) and np.allclose(many[1], ham.psi0)
    assert np.allclose(np.abs(many) ** 2 @ np.ones(5), 1.0)  # unitary


def test_admixture_adds_the_ground_state():
    ham = build_preset("two_level", theta=0.0)
    mixed = ham.with_admixture(0.2)
    g = ham.ground_state()
    assert abs(np.vdot(g, mixed.psi0)) > abs(np.vdot(g, ham.psi0))
    assert np.isclose(np.linalg.norm(mixed.psi0), 1)


def test_engine_never_imports_ui():
    """Every engine module, in every subpackage, loads without panel,
    holoviews or bokeh (STYLE.md: one-way imports), and without matplotlib until a handout
    is drawn."""
    code = ("import sys, pkgutil, importlib; from real_ensemble_lab import engine;"
            "names = [m.name for m in pkgutil.walk_packages(engine.__path__, "
            "'real_ensemble_lab.engine.') if not m.name.endswith('__main__')];"
            "assert len(names) > 30, names;"
            "[importlib.import_module(name) for name in names];"
            "bad = [m for m in ('panel', 'holoviews', 'bokeh', 'matplotlib') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_core_imports_nothing_from_the_applications():
    """engine/core/ is the physics; engine/studies/ and engine/tools/ are built on it, and
    imports go one way (engine/__init__.py), lazy ones inside functions included."""
    import re

    core = Path(__file__).resolve().parent.parent / "engine" / "core"
    upward = re.compile(r"from \.\.(studies|tools)\b|from \.\. import|"
                        r"real_ensemble_lab\.engine\.(studies|tools)\b")
    bad = [f"{path.name}:{n}" for path in sorted(core.glob("*.py"))
           for n, line in enumerate(path.read_text().splitlines(), 1) if upward.search(line)]
    assert len(list(core.glob("*.py"))) > 15 and not bad, bad


def test_preset_defaults_come_from_the_data_file(tmp_path, monkeypatch):
    """preset_defaults reads assets/presets.yaml: a default changed in the file is what a
    build uses (the old test compared the data with itself)."""
    import yaml

    from real_ensemble_lab.engine.core import presets

    data = yaml.safe_load((presets.ASSETS / "presets.yaml").read_text())
    data["presets"]["two_level"]["params"]["coupling"]["default"] = 2.5
    (tmp_path / "presets.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setattr(presets, "ASSETS", tmp_path)
    presets._load.cache_clear()
    try:
        assert preset_defaults("two_level")["coupling"] == 2.5
        assert abs(build_preset("two_level").H[0, 1]) == pytest.approx(2.5)
    finally:
        monkeypatch.undo()
        presets._load.cache_clear()
    assert preset_defaults("two_level")["coupling"] == 1.0


def test_preset_units_are_exposed_and_required(tmp_path, monkeypatch):
    """Every preset parameter has a unit (issue #18): energies in units with hbar = 1, angles
    in rad, sizes in sites; a spec without one, or without a doc sentence, is refused."""
    import yaml

    from real_ensemble_lab.engine.core import presets

    assert preset_info("two_level")["params"]["detuning"]["unit"] == "energy (ħ = 1)"
    assert presets.preset_units("ring")["P"] == "sites"
    assert presets.preset_units("three_level")["variant"] == ""
    assert presets.preset_units("two_qubits")["theta_A"] == "rad"
    data = yaml.safe_load((presets.ASSETS / "presets.yaml").read_text(encoding="utf-8"))
    for field, words in (("unit", "has no 'unit'"), ("doc", "has no 'doc'")):
        bad = json.loads(json.dumps(data))
        del bad["presets"]["ring"]["params"]["mass"][field]
        (tmp_path / "presets.yaml").write_text(yaml.safe_dump(bad, allow_unicode=True),
                                               encoding="utf-8")
        monkeypatch.setattr(presets, "ASSETS", tmp_path)
        presets._load.cache_clear()
        try:
            with pytest.raises(InputError, match=f"Preset 'ring' parameter 'mass' {words}"):
                preset_info("ring")
        finally:
            monkeypatch.undo()
            presets._load.cache_clear()
