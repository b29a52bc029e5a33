"""Maths in Markdown panes: ``$...$`` and ``$$...$$`` typeset by MathJax.

The lesson texts and preset descriptions (assets/*.yaml) write maths as LaTeX between
dollars. Panel 1.9's Markdown pane does not typeset single dollars by itself: its front end
hands the HTML to Bokeh's MathJax, which finds only ``\\(...\\)`` (inline) and ``$$...$$``
(display), and Markdown would eat the backslashes of ``\\(``, ``\\,`` or ``\\{`` first. The
markdown-it ``dollarmath`` plugin here takes the maths out before Markdown sees it and hands
it to MathJax between those delimiters.

Two things are needed on a page:

- ``pn.extension("mathjax", "tabulator")`` before the page is built, so that it loads
  Bokeh's MathJax bundle (served locally, no network); without it the text shows the raw
  LaTeX. Name every extension the page needs in that call: once ``pn.extension`` has run,
  Panel no longer loads the others by itself (a Tabulator then fails with "Tabulator is
  not defined");
- Markdown panes built with ``plugins=MATH_PLUGINS`` (or :func:`math_markdown`).
"""

from __future__ import annotations

import functools
from typing import Any

import panel as pn
from mdit_py_plugins.dollarmath import dollarmath_plugin


def _to_mathjax(content: str, opts: dict[str, Any]) -> str:
    """LaTeX between the delimiters Bokeh's MathJax looks for. The result is HTML, so
    ``<``, ``>`` and ``&`` become the TeX commands that draw them."""
    tex = content.replace("&", r"\&").replace("<", r"\lt ").replace(">", r"\gt ")
    return f"$${tex}$$" if opts.get("display_mode") else f"\\({tex}\\)"


#: markdown-it plugins for ``pn.pane.Markdown(plugins=...)``: one module-level object, so
#: that Panel's parser cache (keyed by the plugins) builds the parser once.
MATH_PLUGINS = [functools.partial(dollarmath_plugin, renderer=_to_mathjax)]


def math_markdown(text: str = "", **params: Any) -> pn.pane.Markdown:
    """A Markdown pane whose ``$...$`` and ``$$...$$`` are typeset."""
    return pn.pane.Markdown(text, plugins=MATH_PLUGINS, **params)
