"""Lesson texts and preset descriptions write their maths as LaTeX that app/maths.py turns
into MathML whole (tests/test_editor_maths_browser.py sees it drawn in Chromium)."""

from __future__ import annotations

import html
import re

import panel as pn
import pytest

from real_ensemble_lab.app.maths import MATH_PLUGINS, math_markdown, to_mathml
from real_ensemble_lab.engine.core.presets import preset_info, preset_names
from real_ensemble_lab.engine.tools import lessons

TEXTS = {f"lesson {name}": lesson.markdown() for name, lesson in lessons.load().items()}
TEXTS.update({f"preset {name}": " ".join(preset_info(name)["description"].split())
              for name in preset_names()})
MATH = re.compile(r'<math alttext="(.*?)".*?</math>', re.S)


def rendered(text: str) -> str:
    pane = pn.pane.Markdown(text, plugins=MATH_PLUGINS)
    return html.unescape(pane._transform_object(text)["object"])


@pytest.mark.parametrize("where", list(TEXTS))
def test_maths_becomes_mathml_whole_and_no_ascii_maths_is_left(where):
    out = rendered(TEXTS[where])
    assert "$" not in out, (where, out)  # every $...$ became MathML
    maths = MATH.findall(out)
    prose = MATH.sub(" ", out)
    assert out.count("<math ") == out.count("</math>") == len(maths)
    assert "rel-tex" not in out and "merror" not in out, (where, out)  # all converted
    for tex in maths:  # Markdown did not eat LaTeX's backslashes or braces
        assert "<em>" not in tex and "<strong>" not in tex, (where, tex)
    for ascii_maths in ("sqrt", "psi", "phi_", "Schroedinger", "^2", "n_a", "1/2 sum", ">>"):
        assert ascii_maths not in prose, (where, ascii_maths, prose)


def test_backslash_commands_survive_markdown():
    out = rendered(r"the state $\psi_a = \sqrt{n_a/N}\,e^{-i\varphi_a}$ and $a < b$ (32)")
    # \, kept, braces kept: the TeX reached the converter whole
    assert 'alttext="\\psi_a = \\sqrt{n_a/N}\\,e^{-i\\varphi_a}"' in out
    assert "<msqrt>" in out and '<mspace width="0.167em"' in out
    assert "<mo>&#x0003C;</mo>" in out  # '<' is an operator, not the start of a tag
    assert "(32)" in out and out.count("<math ") == 2


def test_display_maths_and_a_formula_that_cannot_be_read():
    assert 'display="block"' in rendered("$$D = \\frac{1}{2}$$")
    # a typo in a text (a superscript with nothing after it): shown as its TeX, escaped
    assert to_mathml("a < x^", display=False) == '<code class="rel-tex">a &lt; x^</code>'


def test_math_markdown_pane():
    pane = math_markdown("$x^2$", css_classes=["lesson-text"])
    assert pane.plugins == MATH_PLUGINS and "lesson-text" in pane.css_classes
