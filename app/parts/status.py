"""What the page says about the run: the status bar (always the running ensemble), the
notices (link values replaced, slow settings, errors, advice) and the lesson banner."""

from __future__ import annotations

import html
import math

import panel as pn

from real_ensemble_lab.engine.tools import lessons as lesson_data

from .. import patches
from ..a11y import SECTION_CSS
from ..controller import Controller
from ..maths import math_markdown
from ..runner import Published
from ..widgets import fmt_N

STEP_ERROR_TIP = ("The time stepping, not the finite ensemble, dominates D·√N here: "
                  "lower the tolerances.")
NOT_FINITE = "not a finite number: the run has left the numbers behind"


def status_html(pub: Published, speed: float, preparing: bool) -> str:
    """The status bar's fields, all read from the published frame of the running run."""
    f = pub.frame
    D = float(f.tv)
    sqrtN = math.sqrt(max(f.N, 1))
    parts = [
        _stat("time", f'<b class="rel-time" data-frame="{pub.seq}">{_num(f.t, ".2f")}</b>'),
        _stat("systems N", f'<b class="rel-N">{fmt_N(f.N)}</b>'),
        _stat("deviation D", f'<b class="rel-D">{_num(D, ".4f")}</b>'),
        _stat("D·√N", f"<b>{_num(D * sqrtN, '.2f')}</b>"),
        _stat("engine", f'<b class="rel-mode">{pub.mode}</b>'),
        _stat("exponent <em>r</em>", f'<b class="rel-r">{pub.r:+.2f}</b>'),
    ]
    if pub.playing and pub.rate > 0.0 and math.isfinite(pub.rate):
        slow = pub.rate < 0.9 * speed
        title = (f' title="The engine cannot keep up: {pub.rate:.2g} time units per second '
                 f'of the {speed:.2g} asked. A smaller N runs faster."') if slow else ""
        parts.append(f'<div class="stat{" slow" if slow else ""}"{title}><span>time units / s'
                     f'</span><b class="v">{pub.rate:.2g}</b>'
                     + (f"<small> of {speed:.2g}</small>" if slow else "") + "</div>")
    err = float(f.step_error)
    warn = err * sqrtN > 1.0
    steps = f"{f.steps:,}".replace(",", " ")
    head = (f'<div class="stat aux warn" title="{STEP_ERROR_TIP}">' if warn
            else '<div class="stat aux">')
    err_text = "0" if err == 0.0 else (f"≈ {err:.1e}" if math.isfinite(err)
                                       else _num(err, ""))
    parts.append(f'{head}<span>steps · <em>Δt</em> error</span><b class="steps">{steps} · '
                 f'{err_text}</b></div>')
    if preparing:
        parts.insert(0, '<div class="stat prep"><b>preparing…</b></div>')
    return "".join(parts)


def _num(x: float, spec: str) -> str:
    """A number as the status bar writes it; a non-finite one as a dash that says why."""
    if math.isfinite(x):
        return format(x, spec)
    return f'<abbr class="nonfinite" title="{NOT_FINITE}">—</abbr>'


def _stat(label: str, value: str) -> str:
    return f'<div class="stat"><span>{label}</span>{value}</div>'


class StatusBar(pn.viewable.Viewer):
    def __init__(self, ctl: Controller, **params):
        super().__init__(**params)
        self.ctl = ctl
        # a fixed height: the figures change every frame, the page's layout must not
        # (a pane whose new text is sent alone: Panel re-sent every property per frame)
        self.pane = patches.TextHTML("", sizing_mode="stretch_width", height=62,
                                 css_classes=["rel-status", "status"],
                                 stylesheets=[_STATUS_CSS])
        ctl.param.watch(self.refresh, ["published", "preparing"])
        ctl.param.watch(lambda e: self._big(e.new), "presentation")
        self._big(ctl.presentation)

    def _big(self, on: bool) -> None:
        self.pane.css_classes = ["rel-status", "status", *(["big"] if on else [])]

    def refresh(self, *events) -> None:
        pub = self.ctl.published
        if pub is None:
            return
        text = status_html(pub, self.ctl.speed, self.ctl.preparing)
        if text != self.pane.object:
            self.pane.object = text

    def __panel__(self):
        return self.pane


class Notices(pn.viewable.Viewer):
    """Link notices, slow-settings warnings, the last error and advice: plain sentences."""

    def __init__(self, ctl: Controller, **params):
        super().__init__(**params)
        self.ctl = ctl
        box = dict(sizing_mode="stretch_width", visible=False)
        self.link = pn.pane.Alert("", alert_type="warning", css_classes=["rel-notice",
                                                                         "url-notice"], **box)
        self.cost = pn.pane.Alert("", alert_type="warning", css_classes=["rel-notice",
                                                                         "rel-cost"], **box)
        self.error = pn.pane.Alert("", alert_type="danger", css_classes=["rel-notice",
                                                                         "run-error"], **box)
        self.advice = pn.pane.Alert("", alert_type="info", css_classes=["rel-notice",
                                                                        "rel-advice"], **box)
        self.fix = pn.widgets.Button(label="Reset the ensemble", color="primary",
                                     visible=False, css_classes=["rel-fix"])
        self.fix.on_click(lambda e: (setattr(ctl, "advice", ""), ctl.reset()))
        ctl.param.watch(self.refresh, ["notices", "cost", "error", "advice"])
        self.refresh()

    def refresh(self, *events) -> None:
        c = self.ctl
        self._show(self.link, "\n".join(f"- {html.escape(n)}" for n in c.notices))
        self._show(self.cost, c.cost)
        self._show(self.error, f"**Not applied:** {c.error}" if c.error else "")
        self._show(self.advice, c.advice)
        self.fix.visible = bool(c.advice)

    @staticmethod
    def _show(alert: pn.pane.Alert, text: str) -> None:
        if text:
            alert.object = text
        alert.visible = bool(text)

    def __panel__(self):
        return pn.Column(self.link, self.error, self.cost, self.advice, self.fix,
                         sizing_mode="stretch_width")


class LessonBanner(pn.viewable.Viewer):
    """A lesson in one line ("watch this"), the full text on demand; otherwise the preset's
    explanation below the plots."""

    def __init__(self, ctl: Controller, **params):
        super().__init__(**params)
        self.ctl = ctl
        self.line = math_markdown("", css_classes=["rel-lesson-line"],
                                  styles={"flex": "1 1 300px", "min-width": "0"})
        self.more = pn.widgets.Toggle(label="Full lesson text", color="primary",
                                      variant="outline", width=170,
                                      css_classes=["rel-lesson-more"])
        self.full = math_markdown("", sizing_mode="stretch_width", visible=False,
                                  css_classes=["lesson-text", "rel-lesson-text"],
                                  stylesheets=[SECTION_CSS])
        self.more.param.watch(lambda e: setattr(self.full, "visible", e.new), "value")
        # each pane's own sheets (maths font, sections); the text size goes after them
        self._sheets = {id(p): list(p.stylesheets) for p in (self.line, self.full)}
        # the line takes the width; on a phone the button wraps under it
        head = pn.FlexBox(self.line, self.more, flex_wrap="wrap", align_items="center",
                          sizing_mode="stretch_width")
        self.box = pn.Column(head, self.full, sizing_mode="stretch_width", visible=False,
                             css_classes=["rel-lesson"], styles=_BANNER)
        ctl.param.watch(self.refresh, ["lesson", "presentation"])
        self.refresh()

    def refresh(self, *events) -> None:
        lesson = self.ctl.lesson_data
        if lesson is None:
            self.box.visible = False
            return
        watch = lesson.watch.split(". ")[0].rstrip(".") + "."
        self.line.object = f"**Lesson {lesson.number}: {lesson.title}.** Watch: {watch}"
        self.full.object = lesson.markdown()
        self.box.visible = True
        text = _TEXT_BIG if self.ctl.presentation else _TEXT
        for pane in (self.line, self.full):
            pane.stylesheets = [*self._sheets[id(pane)], text]

    def __panel__(self):
        return self.box


def lesson_options() -> dict[str, str]:
    return {"Choose a lesson…": "", **{
        f"{lesson_data.get(k).number}. {lesson_data.get(k).title}": k
        for k in lesson_data.lesson_names()}}


_BANNER = {"background": "#fff7ed", "border-left": "6px solid #f59e0b",
           "border-radius": "8px", "padding": "2px 10px"}
_TEXT = ":host {font-size: 17px;} p {margin: 4px 0;}"
#: presentation mode's larger text, on a projector's width (a phone keeps _TEXT's)
_TEXT_BIG = _TEXT + " @media (min-width: 801px) {:host {font-size: 22px; line-height: 1.3;}}"
_STATUS_CSS = """
:host {display: block;}
.stat {display: inline-block; margin: 2px 14px 2px 4px; vertical-align: top;}
.stat span {display: block; font-size: 12px; color: #4b5563; text-transform: uppercase;
            letter-spacing: .05em;}
.stat b {font-size: 22px; color: #1e1b4b; font-variant-numeric: tabular-nums;}
.stat.slow b, .stat.slow small, .stat.warn b {color: #b45309;}
.stat.prep b {color: #6d28d9;}
.stat small {font-size: 15px;}
.stat.aux b {font-size: 16px; line-height: 28px;}
.stat span em {font-style: normal; text-transform: none;}
/* presentation mode's large figures on a projector's width; a phone or tablet keeps the
   usual sizes, for which the heights below are made */
@media (min-width: 801px) {
  :host(.big) .stat b {font-size: 30px;} :host(.big) .stat span {font-size: 15px;}
  :host(.big) .stat.aux b {font-size: 20px; line-height: 38px;}
}
/* narrow screens: the figures wrap to two or three rows, each height still fixed */
@media (max-width: 800px) {:host {height: 116px !important;}}
@media (max-width: 560px) {:host {height: 170px !important;}}
"""
