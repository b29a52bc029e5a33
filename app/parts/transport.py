"""Play / Pause, Step, Reset and the speed; Space plays and pauses anywhere on the page."""

from __future__ import annotations

import panel as pn
import param
from bokeh.models import Tooltip

from ..controller import Controller
from ..widgets import with_help


class Keys(pn.custom.ReactiveHTML):
    """Page-wide keys: Space (outside text fields and anything Space operates: buttons,
    links, check boxes, tabs) counts a press here; the sidebar follows presentation mode
    and narrow screens (the template's own closeNav); a press on a transport button puts
    its tooltip away until the pointer leaves the button (Panel hides it on leaving only,
    so after a click it covered Step and Reset; app/style.css)."""

    presses = param.Integer(default=0)
    collapse = param.Boolean(default=False, doc="Sidebar closed (presentation mode).")
    narrow = param.Boolean(default=False, doc="The page is under 600 px wide (a phone).")

    _template = '<div id="keys" class="rel-keys" aria-hidden="true"></div>'
    _scripts = {
        "render": """
          const OWN = ['button', 'link', 'checkbox', 'switch', 'tab', 'gridcell', 'option',
                       'menuitem', 'combobox', 'textbox'];
          const typing = (e) => {
            const t = e.composedPath()[0];
            if (!t || !t.tagName) return false;
            const tag = t.tagName.toLowerCase();
            return ['input', 'textarea', 'select', 'button', 'a'].includes(tag)
                   || t.isContentEditable
                   || (t.getAttribute && OWN.includes(t.getAttribute('role')));
          };
          document.addEventListener('keydown', (e) => {
            if ((e.code === 'Space' || e.key === ' ') && !e.repeat && !e.defaultPrevented
                && !typing(e)) {
              e.preventDefault();
              data.presses = data.presses + 1;
            }
          });
          let pressed = null;
          document.addEventListener('pointerdown', (e) => {
            pressed = e.composedPath().find((n) => n.classList
                                            && n.classList.contains('rel-tipped')) || null;
            document.body.classList.toggle('rel-tips-off', pressed !== null);
          }, true);
          // pointermove: moving onto a plot's canvas sent no pointerover
          document.addEventListener('pointermove', (e) => {
            if (pressed !== null && !e.composedPath().includes(pressed)) {
              pressed = null;
              document.body.classList.remove('rel-tips-off');
            }
          }, true);
          const phone = window.matchMedia('(max-width: 600px)');
          data.narrow = phone.matches;
          phone.addEventListener('change', (e) => { data.narrow = e.matches; });
          if (window.innerWidth < 1400 || data.collapse) {
            if (typeof closeNav === 'function') closeNav();
          }
        """,
        "collapse": """
          if (data.collapse) { if (typeof closeNav === 'function') closeNav(); }
          else if (window.innerWidth >= 1400 && typeof openNav === 'function') openNav();
        """,
    }


def tip(text: str) -> Tooltip:
    """A transport button's tooltip, as Panel draws a ``description`` but with the class
    ``rel-tip``: the page's style sheet hides it after a press and on touch screens."""
    return Tooltip(content=text, position="right", css_classes=["rel-tip"],
                   stylesheets=[":host {white-space: initial; max-width: 300px;}"])


class Transport(pn.viewable.Viewer):
    """The transport row: the first thing on the page and in the tab order."""

    def __init__(self, ctl: Controller, **params):
        super().__init__(**params)
        self.ctl = ctl
        W = pn.widgets
        big = dict(height=46, stylesheets=[_BIG], margin=(6, 4))
        self.play = W.Button(label="Play", color="success",
                             css_classes=["rel-play", "rel-tipped"],
                             description=tip("Start or pause the simulation (Space)"),
                             width=120, **big)
        self.play.on_click(lambda e: ctl.toggle_play())
        self.step = W.Button(label="Step", color="primary", variant="outline",
                             description=tip("Advance by one output interval Δt"), width=80,
                             css_classes=["rel-step", "rel-tipped"], **big)
        self.step.on_click(lambda e: ctl.step())
        self.reset = W.Button(label="Reset", color="primary", variant="outline",
                              description=tip("A fresh ensemble with the same settings, "
                                              "at t = 0"),
                              width=80, css_classes=["rel-reset", "rel-tipped"], **big)
        self.reset.on_click(lambda e: ctl.reset())
        self.speed = W.EditableFloatSlider(
            label="Speed (time units per second)", start=0.05, end=5.0,
            fixed_start=ctl.param.speed.bounds[0], fixed_end=ctl.param.speed.bounds[1],
            step=0.05, value=ctl.speed, sizing_mode="stretch_width",
            css_classes=["rel-w-speed"])
        self.speed.param.watch(lambda e: setattr(ctl, "speed", e.new)
                               if e.new is not None else None, "value")
        ctl.param.watch(lambda e: setattr(self.speed, "value", e.new), "speed")
        # a touch screen has no Space bar: no hint there
        self.hint = pn.pane.HTML('<span class="rel-hint">Space: play / pause</span>',
                                 margin=(0, 10), css_classes=["rel-space-hint"],
                                 stylesheets=["@media (hover: none) {:host {display: none;}}"])
        self.keys = Keys(collapse=ctl.presentation, width=0, height=0, margin=0)
        self.keys.param.watch(lambda e: ctl.toggle_play(), "presses")
        ctl.param.watch(self._show_playing, ["playing", "preparing"])
        ctl.param.watch(lambda e: setattr(self.keys, "collapse", e.new), "presentation")

    def _show_playing(self, *events) -> None:
        playing = self.ctl.playing
        self.play.param.update(label="Pause" if playing else "Play",
                               color="warning" if playing else "success")
        self.step.disabled = self.ctl.preparing

    def speed_box(self) -> pn.Column:
        """The speed slider and the keyboard hint (the sidebar's top)."""
        return pn.Column(with_help(self.speed, self.ctl.param.speed.doc), self.hint,
                         sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self.play, pn.Row(self.step, self.reset, sizing_mode="stretch_width"),
                         self.speed_box(), self.keys, sizing_mode="stretch_width",
                         css_classes=["rel-transport"])


#: Large type; green and amber dark enough for white text (4.5:1, WCAG 1.4.3).
_BIG = """
:host .bk-btn {font-size: 18px; font-weight: 600;}
:host .bk-btn-success {background-color: #15803d; border-color: #15803d; color: #fff;}
:host .bk-btn-success:hover {background-color: #166534; border-color: #166534;}
:host .bk-btn-warning {background-color: #b45309; border-color: #b45309; color: #fff;}
:host .bk-btn-warning:hover {background-color: #92400e; border-color: #92400e;}
"""
