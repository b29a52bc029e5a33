"""Issue 18 without a browser: the preset-slider question after hand edits of the matrix,
a status bar that never shows NaN, and the accessibility pieces the page is built with
(focus rings in every component's shadow root, the browser-side names)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import param
import pytest

from real_ensemble_lab.app.parts.status import status_html
from real_ensemble_lab.app.runner import Published
from tests.test_app_unit import Edit, frame
from tests.test_controller import app  # noqa: F401 - the fixture


def release(w, value) -> None:
    """What the browser does when a slider is let go (or a value typed in)."""
    with param.edit_constant(w):
        w.param.update(value=value, value_throttled=value)


def hand_edit(app) -> None:  # noqa: F811 - the fixture
    ed = app.ham_controls.matrix
    ed.table.value.loc[0, "0"] = "1.5"
    ed._on_edit(Edit(0, "0", "1.5"))
    app.tick()
    assert app.ctl.custom is not None


def test_a_preset_slider_after_hand_edits_asks_before_discarding_them(app):  # noqa: F811
    hc = app.ham_controls
    hand_edit(app)
    app.sent.clear()
    theta = hc.value_widgets["theta"]
    release(theta, 2.0)
    # held: nothing applied, the matrix is still the hand-edited one, and the page asks
    assert app.ctl.preset_values == {} and app.ctl.custom is not None
    assert hc.edited.visible and "theta" in hc.ask.object
    assert [b.label for b in (hc.discard, hc.keep)] == ["Discard my matrix edits",
                                                        "Keep my matrix"]
    app.tick()
    assert app.sent == []

    hc.keep.clicks += 1  # "Keep my matrix": the slider goes back, the matrix stays
    theta = hc.value_widgets["theta"]
    assert theta.value == pytest.approx(1.2) and not hc.edited.visible
    assert app.ctl.custom is not None and app.ctl.preset_values == {}
    app.tick()
    assert app.sent == []

    release(theta, 2.0)
    release(hc.value_widgets["chi"], 0.5)  # a second change joins the question
    assert "theta, chi" in hc.ask.object
    hc.discard.clicks += 1  # "Discard my matrix edits": both apply, from the preset
    assert app.ctl.custom is None and not hc.edited.visible
    assert app.ctl.preset_values == {"theta": 2.0, "chi": 0.5}
    app.tick()
    ham, _ = next(v for c, v in app.sent if c == "restart")
    assert ham.H[0, 0] != 1.5  # the preset's matrix again


def test_without_hand_edits_a_preset_slider_applies_at_once(app):  # noqa: F811
    release(app.ham_controls.value_widgets["theta"], 2.0)
    assert app.ctl.preset_values == {"theta": 2.0}
    assert not app.ham_controls.edited.visible


def test_a_new_preset_drops_the_question(app):  # noqa: F811
    hc = app.ham_controls
    hand_edit(app)
    release(hc.value_widgets["theta"], 2.0)
    assert hc.edited.visible
    app.ctl.preset = "three_level"
    assert not hc.edited.visible and hc.pending == {}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_the_status_bar_never_shows_a_non_finite_number(bad):
    f = replace(frame([5000, 5000], [0.5, 0.5]), tv=bad, step_error=bad)
    html = status_html(Published(1, 1, f, True, -0.5, bad, mode="population"), 1.0, False)
    text = html.lower()
    assert "nan" not in text and "inf" not in text.replace("infinite", "")
    assert html.count('class="nonfinite"') == 3  # D, D·√N and the step error
    assert 'class="rel-D"><abbr' in html and "not a finite number" in html


def test_every_component_gets_the_focus_ring_and_the_fast_design_stays():
    import panel as pn
    from panel.theme import DefaultTheme

    from real_ensemble_lab.app import a11y, patches

    design = a11y.accessible(patches.offline_fast())
    assert design.__name__ == "Fast"  # Panel finds the bundled files by the name
    for cls in (pn.widgets.Button, pn.widgets.EditableFloatSlider, pn.layout.Card):
        sheets = design._resolve_modifiers(cls, DefaultTheme)[0]["stylesheets"]
        assert a11y.FOCUS_CSS in sheets and any("fast.css" in str(s) for s in sheets)
    assert "outline: 3px solid" in a11y.FOCUS_CSS and "disabled" in a11y.FOCUS_CSS


def test_a_phone_gets_compact_plot_titles_and_fewer_ticks(app):  # noqa: F811
    hist = app.plots.views["hist"].fig
    assert hist.title.text_font_size == "15pt"
    app.transport.keys.narrow = True  # what the page reports under 600 px
    assert app.plots.narrow and hist.title.text_font_size == "12pt"
    assert hist.yaxis[0].ticker.desired_num_ticks == 3
    assert app.plots.views["hist"].fig.legend[0].label_text_font_size == "10pt"
    assert hist.yaxis[0].axis_label_text_font_size == "10pt"  # was cut off at 14pt
    app.ctl.presentation = True  # the projector profile on a phone: still compact
    assert hist.title.text_font_size == "12pt"
    assert hist.yaxis[0].axis_label_text_font_size == "10pt"
    app.transport.keys.narrow = False
    assert hist.title.text_font_size == "17pt" and hist.yaxis[0].ticker.desired_num_ticks == 6
    assert hist.yaxis[0].axis_label_text_font_size == "17pt"
    assert hist.legend[0].label_text_font_size == "11pt"
    assert hist.title.offset == -50  # the title starts near the canvas's edge
