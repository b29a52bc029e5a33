"""Maths in Markdown panes: ``$...$`` and ``$$...$$`` as MathML, drawn by the browser.

The lesson texts and preset descriptions (assets/*.yaml) write maths as LaTeX between
dollars. The markdown-it ``dollarmath`` plugin takes the maths out before Markdown sees it
(Markdown would eat the backslashes of ``\\,`` or ``\\{``), and ``latex2mathml`` turns each
formula into MathML on the server. Browsers draw MathML themselves (MathML Core: Chromium
109, Firefox, Safari) and screen readers read it, so the page loads no typesetting
script: MathJax was 1.8 MB of the page's 6.2 MB, and a fresh page took about 0.5 s less
without it on this machine (2026-12-03).

Markdown panes with maths are built with ``plugins=MATH_PLUGINS`` (or
:func:`math_markdown`).
"""

from __future__ import annotations

import functools
import html
import logging
from typing import Any

import panel as pn
from latex2mathml.converter import convert
from mdit_py_plugins.dollarmath import dollarmath_plugin

log = logging.getLogger("real_ensemble_lab.app.maths")

#: A font with OpenType maths (the system's own first: Cambria Math, STIX Two Math, ...),
#: inside the pane's shadow root, where the page's style sheet does not reach.
MATH_CSS = ('math {font-family: math, "STIX Two Math", "Cambria Math", "Latin Modern Math", '
            '"DejaVu Math TeX Gyre", serif; font-size: 1.05em;}')


@functools.lru_cache(maxsize=512)
def to_mathml(tex: str, display: bool = False) -> str:
    """One formula as MathML (its TeX as ``alttext``); a formula the converter cannot
    read is shown as its TeX, in code type, and logged."""
    try:
        out = convert(tex, display="block" if display else "inline")
    except Exception as err:  # noqa: BLE001 - a text's typo must not blank the page
        log.warning("formula %r not converted: %s", tex, err)
        return f'<code class="rel-tex">{html.escape(tex)}</code>'
    out = out.replace("<math ", f'<math alttext="{html.escape(tex, quote=True)}" ', 1)
    # a slash is ordinary in TeX (n_a/N), where MathML spaces it as an operator
    return out.replace("<mo>&#x0002F;</mo>", '<mo lspace="0" rspace="0">&#x0002F;</mo>')


def _render(content: str, opts: dict[str, Any]) -> str:
    return to_mathml(content.strip(), bool(opts.get("display_mode")))


#: markdown-it plugins for ``pn.pane.Markdown(plugins=...)``: one module-level object, so
#: that Panel's parser cache (keyed by the plugins) builds the parser once.
MATH_PLUGINS = [functools.partial(dollarmath_plugin, renderer=_render)]


def math_markdown(text: str = "", **params: Any) -> pn.pane.Markdown:
    """A Markdown pane whose ``$...$`` and ``$$...$$`` are typeset."""
    params["stylesheets"] = [MATH_CSS, *params.get("stylesheets", [])]
    return pn.pane.Markdown(text, plugins=MATH_PLUGINS, **params)
