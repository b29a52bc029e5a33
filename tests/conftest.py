"""Shared fixtures: the complex validation Hamiltonians of PHYSICS.md §2."""

from __future__ import annotations

import numpy as np
import pytest

from real_ensemble_lab.engine import ExactEvolution, Hamiltonian, build_preset


@pytest.fixture(scope="session")
def ham3() -> Hamiltonian:
    """Complex 3-level ladder, H_01 = 0.8 e^{0.7i}, H_12 = 0.6 i (PHYSICS.md §2)."""
    ham = build_preset("three_level")
    assert np.isclose(ham.H[0, 1], 0.8 * np.exp(0.7j)) and np.isclose(ham.H[1, 2], 0.6j)
    return ham


@pytest.fixture(scope="session")
def ham2() -> Hamiltonian:
    """Detuned two-level system with a complex coupling."""
    return build_preset("two_level")


def min_rho(ham: Hamiltonian, t_end: float) -> float:
    ts = np.linspace(0.0, t_end, 2001)
    return float(ExactEvolution.of(ham).prob(ts).min())


@pytest.fixture(scope="module")
def server():
    """``panel serve app`` on a free local port for one test module (browser tests)."""
    from tests._app_fixtures import free_port, panel_argv, serve

    port = free_port()
    with serve(panel_argv(port), port) as base:
        yield base


def pytest_configure(config):
    """Browser assertions wait up to 20 s: CI machines are loaded and slow."""
    try:
        from playwright.sync_api import expect
    except ImportError:  # pragma: no cover - playwright is in the test extra
        return
    expect.set_options(timeout=20_000)
