"""Lesson texts and preset descriptions write their maths as LaTeX that app/maths.py hands
to MathJax whole (tests/test_editor_maths_browser.py sees it typeset in Chromium)."""

from __future__ import annotations

import html
import re

import panel as pn
import pytest

from real_ensemble_lab.app.maths import MATH_PLUGINS, math_markdown
from real_ensemble_lab.engine.core.presets import preset_info, preset_names
from real_ensemble_lab.engine.tools import lessons

TEXTS = {f"lesson {name}": lesson.markdown() for name, lesson in lessons.load().items()}
TEXTS.update({f"preset {name}": " ".join(preset_info(name)["description"].split())
              for name in preset_names()})
INLINE = re.compile(r"\\\((.*?)\\\)")


def rendered(text: str) -> str:
    pane = pn.pane.Markdown(text, plugins=MATH_PLUGINS)
    return html.unescape(pane._transform_object(text)["object"])


@pytest.mark.parametrize("where", list(TEXTS))
def test_maths_reaches_mathjax_whole_and_no_ascii_maths_is_left(where):
    out = rendered(TEXTS[where])
    assert "$" not in out, (where, out)  # every $...$ became \( ... \)
    maths = INLINE.findall(out)
    prose = INLINE.sub(" ", out)
    assert out.count("\\(") == out.count("\\)") == len(maths)
    for tex in maths:  # Markdown did not eat LaTeX's backslashes or braces
        assert "<em>" not in tex and "<strong>" not in tex, (where, tex)
    for ascii_maths in ("sqrt", "psi", "phi_", "Schroedinger", "^2", "n_a", "1/2 sum", ">>"):
        assert ascii_maths not in prose, (where, ascii_maths, prose)


def test_backslash_commands_survive_markdown():
    out = rendered(r"the state $\psi_a = \sqrt{n_a/N}\,e^{-i\varphi_a}$ and $a < b$ (32)")
    assert r"\(\psi_a = \sqrt{n_a/N}\,e^{-i\varphi_a}\)" in out  # \, kept, braces kept
    assert r"\(a \lt  b\)" in out  # an HTML '<' would end the text early
    assert "(32)" in out


def test_math_markdown_pane():
    pane = math_markdown("$x^2$", css_classes=["lesson-text"])
    assert pane.plugins == MATH_PLUGINS and "lesson-text" in pane.css_classes
