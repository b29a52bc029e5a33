"""The matrix editor's validation, without a browser: what a typed cell may hold.

Entries of H and psi0 must be finite with modulus at most 10^6, and H must be Hermitian pair
by pair (absolute floor plus relative tolerance), so that one huge entry can neither pass
itself nor hide a non-Hermitian pair elsewhere (issue #18).
"""

from __future__ import annotations

import numpy as np
import pytest

from real_ensemble_lab.app.matrix import TABLE_CONFIG, MatrixEditor, parse_table, table_from
from real_ensemble_lab.engine import Hamiltonian, InputError, build_preset
from real_ensemble_lab.engine.core.hamiltonian import ENTRY_MAX, HERMITIAN_ATOL, validate


@pytest.fixture
def table():
    return table_from(build_preset("two_level"))


@pytest.mark.parametrize("cell, text, sentence", [
    ("0", "1e308", "H[0][0] = 1e308 is too large: entries must be finite with |H_ab| ≤ 10⁶."),
    ("0", "-2e6", "H[0][0] = -2e6 is too large: entries must be finite with |H_ab| ≤ 10⁶."),
    ("0", "1e400", "H[0][0] is not a finite number: entries must be finite with |H_ab| ≤ 10⁶."),
    ("0", "inf", "H[0][0] = 'inf' is not a number"),
    ("0", "nan", "H[0][0] is not a finite number"),
    ("psi0", "1e308", "psi0[0] = 1e308 is too large: entries must be finite with "
                      "|psi0_a| ≤ 10⁶."),
    ("psi0", "nan", "psi0[0] is not a finite number"),
])
def test_non_finite_or_huge_entry_is_refused_by_name(table, cell, text, sentence):
    table.loc[0, cell] = text
    with pytest.raises(InputError) as err:
        parse_table(table)
    assert str(err.value).startswith(sentence)
    assert str(err.value).endswith(".") and "\n" not in str(err.value)


def test_huge_complex_entry_is_too_large_not_an_overflow(table):
    table.loc[0, "1"] = "1e308+1e308i"  # |z| overflows to inf; still "too large"
    with pytest.raises(InputError, match=r"H\[0\]\[1\] = 1e308\+1e308i is too large"):
        parse_table(table)


def test_the_limit_itself_is_allowed():
    H = [[ENTRY_MAX, 1], [1, -ENTRY_MAX]]
    Hc, _ = validate(H, [1, 0])
    assert Hc[0, 0] == ENTRY_MAX


def test_large_diagonal_does_not_hide_a_non_hermitian_pair():
    """Before issue #18 the tolerance was relative to the largest entry, so H_00 = 10^6
    let H_01 = 1 and H_10 = 1.0005 through (and H_00 = 1e308 let anything through)."""
    with pytest.raises(InputError, match=r"H\[0\]\[1\] = 1 is not the complex conjugate of "
                                         r"H\[1\]\[0\] = 1.0005"):
        validate([[1e6, 1], [1.0005, 0]], [1, 0])
    with pytest.raises(InputError, match="too large"):
        validate([[1e308, 1], [1.5, 0]], [1, 0])


def test_imaginary_diagonal_is_refused_beside_a_large_entry():
    with pytest.raises(InputError, match=r"H\[1\]\[1\] = 0\+0.001i must be real"):
        validate([[1e6, 0], [0, 1e-3j]], [1, 0])


def test_round_off_below_the_absolute_floor_passes():
    """Zero entries computed as U D U^dagger carry ~1e-16 |D| of round-off: a purely relative
    test of a zero entry would refuse them."""
    rng = np.random.default_rng(0)
    U = np.linalg.qr(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))[0]
    H = U @ np.diag([1e3, -2e3, 5e2, 0.0]) @ U.conj().T
    assert np.abs(H - H.conj().T).max() > 0  # not exactly Hermitian in floating point
    Hc, _ = validate(H, np.ones(4))
    assert np.array_equal(Hc, Hc.conj().T)  # symmetrised
    H = [[0, 0.5 * HERMITIAN_ATOL], [0, 0]]
    validate(H, [1, 0])
    with pytest.raises(InputError, match="not Hermitian"):
        validate([[0, 1e-6], [0, 0]], [1, 0])


def test_relative_tolerance_scales_with_the_pair():
    validate([[0, 1e5], [1e5 + 1e-5, 0]], [1, 0])  # 1e-10 relative: round-off
    with pytest.raises(InputError, match="not Hermitian"):
        validate([[0, 1e5], [1e5 + 1e-3, 0]], [1, 0])


def test_editor_shows_the_sentence_and_applies_nothing():
    calls = []
    ed = MatrixEditor(on_apply=lambda kind, H, psi: calls.append(kind))
    ed.load(build_preset("two_level"))
    ed.table.value.loc[0, "0"] = "1e308"
    ed.check_and_apply()
    assert calls == [] and ed.alert.visible
    assert ed.error == "H[0][0] = 1e308 is too large: entries must be finite with |H_ab| ≤ 10⁶."
    assert ed.error in ed.alert.object
    ed.table.value.loc[0, "0"] = "2"
    ed.check_and_apply()
    assert calls == ["live"] and not ed.alert.visible and ed.error == ""


def test_custom_file_with_a_huge_entry_is_refused():
    with pytest.raises(InputError, match=r"H\[1\]\[1\] = 1e300 is too large"):
        Hamiltonian.from_dict({"H": [[0, 1], [1, 1e300]], "psi0": [1, 0]})


def test_tab_is_the_browsers_own():
    """Tabulator's navNext swallows Tab even on the last cell (a keyboard trap): the editor
    switches that binding off (tests/test_matrix_browser.py drives it in Chromium)."""
    assert TABLE_CONFIG["keybindings"] == {"navNext": False, "navPrev": False}
