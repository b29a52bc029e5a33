"""Keyboard and screen-reader access that the page needs in every component (issue 18).

Page CSS (``app/style.css``) does not reach inside the components' shadow roots, and the
Fast design removes the focus outline of buttons there (``outline: none``). The design
below adds one stylesheet to every component's shadow root: a visible focus ring for
keyboard users, a clear disabled look, and two colours that did not read (axe's
colour-contrast rule): inline code on the page's grey (Panel's #82aaff is 2.3:1) and the
text of a pressed outline toggle ("Full lesson text", "Presentation mode": dark on the
indigo it fills with, 2.1:1). The names
Bokeh and Panel leave out (slider handles, spinner arrows, help icons, the template's
sidebar button) are added in the browser by ``app.patches`` (private BokehJS views).
"""

from __future__ import annotations

#: The focus ring: amber-700 on white is 5:1 (WCAG 1.4.11 asks 3:1 for a focus indicator).
FOCUS = "#b45309"
#: In every component's shadow root (after the design's own CSS: it must win over Fast's
#: ``.bk-btn:focus {outline: none}``).
FOCUS_CSS = f"""
:focus-visible {{outline: 3px solid {FOCUS} !important; outline-offset: 2px !important;}}
.noUi-handle:focus-visible {{box-shadow: 0 0 0 3px {FOCUS} !important;}}
.bk-tab:focus-visible {{outline-offset: -3px !important;}}
.bk-btn[disabled], .bk-input[disabled], input[disabled] {{
  opacity: 0.45 !important; cursor: not-allowed !important; filter: grayscale(0.6);
}}
.bk-description[role="button"] {{border-radius: 50%;}}
:host {{--code-text-color: #1e40af;}}
:host(.outline) .bk-btn.bk-btn-primary.bk-active {{color: #fff !important;}}
"""


#: Section headings are h2 under the page's h1 (the title in the header; axe's
#: heading-order), drawn at the size of the h3 they were.
SECTION_CSS = ":host h2 {font-size: 1.17em;}"


def accessible(design: type) -> type:
    """``design`` (a Panel Design class) with :data:`FOCUS_CSS` in every component.

    Panel finds a design's bundled files by its class name, so the subclass keeps it."""
    from panel.theme.base import Inherit
    from panel.viewable import Viewable

    return type(design.__name__, (design,), {
        "modifiers": {Viewable: {"stylesheets": [Inherit, FOCUS_CSS]}},
        "__doc__": f"{design.__doc__ or design.__name__} With visible focus for keyboards.",
    })
