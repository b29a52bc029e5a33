"""Every workaround of a Panel or Bokeh private API (made for Panel 1.9 and Bokeh 3.9, the
versions pinned in pyproject.toml), here and, for the two on a frame's way to the socket,
in :mod:`app.wire`. Each one checks that what it patches is there and logs a warning when
it is not, so an upgrade shows in the server log instead of failing quietly.

1. ``install(doc)``: BokehJS hot-path workarounds and one update from the server per
   displayed frame, installed in the browser when a page is ready (below), and the
   accessibility workarounds (``A11Y_JS``, below that).
2. ``undebounced(widget)``: Panel's 50 ms debounce of browser changes, off.
3. ``pin_local_stylesheets()``: component stylesheets always from this server.
4. ``OfflineFast``: Panel's Fast design without its Google web font.
5. ``TextHTML``: an HTML pane whose new object sends its text alone.
6. ``design_params_only_for_stylesheets()``: a parameter change of a Panel component no
   longer recomputes its design's parameters unless its stylesheets changed.
7. ``connections(doc)``: how many pages a session's document is open in (Bokeh keeps a
   session for 15-30 s after its page closed, and its engine would play on meanwhile).
8. ``collect_with(heap)``: Panel's full collection after each session that ends goes
   through :class:`app.heap.Heap` (the sessions' objects are frozen; see there).

The BokehJS workarounds:

Every renderer of a figure rewrites its positioning stylesheet on every paint
(``InlineStyleSheet._update`` assigns ``textContent`` even when the text is the same), and
every visual property read (``VisualProperties._get_css_value``) calls
``getComputedStyle``. Together they force one style recalculation of the whole page per
renderer per paint (bokeh/bokeh#15286; bokeh/bokeh#15205 caches the reads upstream). On
the live dashboard, with six figures repainted 20 times a second, that was about a fifth
of the browser's time.

The patch skips a stylesheet write that would not change its text, so style stays clean
between the reads, and caches each visual's CSS-variable reads until the current task
ends (as upstream does from bokeh/bokeh#15205 on): a paint reads each value once.

A glyph renderer's element is also positioned on its glyph's bounding box, which moves
with the data: the histogram's bars changed it on every frame, so every paint still
invalidated style and layout and the next CSS read or legend measurement forced both
again (seen in a Chrome trace with invalidation tracking). That element holds nothing and
is not drawn (glyphs are drawn on the canvas), so its position is brought up to date at
most once a second, with a trailing update, instead of on every paint: the histogram's and
phase plot's paints took 3-5 ms instead of 5-7 ms.

The status bar's HTML changes with every frame, its structure seldom: Panel's HTML view
replaced every node of it each time (``innerHTML``), and the page restyled and laid out
the new ones. New HTML of the same structure is written into the nodes already there
(text and attributes); any other goes through Panel's own ``set_html`` (renderer work per
frame ~6.5 ms less at N = 10^6 agents, 2026-12-03).

Updates from the server are shown one per displayed frame. BokehJS applies each update as
its message arrives, and two that arrive within one display frame are painted together: the
first is never seen. At N = 10^6 agents the runner publishes about 32 frames a second, a
turn of the engine apart (20-47 ms, as its steps fall); the page drew 24-25 of them, each of
the others merged into its successor. An update that arrives before the previous one has
been painted now waits for the next frame (at most three wait; a hidden page, a burst or a
frame that does not come within 100 ms lets them through at once, in order): 31-32 of the
32 drawn (bench_app, 2026-12-04), the slider's effect shown ~15 ms later (109 against
89-97 ms).

Same CSS, same visuals, same pictures. The patch checks for the prototypes it touches and
leaves alone whatever a future BokehJS no longer has.
"""

from __future__ import annotations

import logging
import time
import weakref
from contextlib import contextmanager

import panel as pn
from bokeh.models import CustomJS

#: Runs once per page (the flag makes repeated installs harmless).
PATCH_JS = """
const B = window.Bokeh
if (B == null || B.__rel_style_patch) { return }
B.__rel_style_patch = true
const need = (path, name, method) => {
  try {
    const cls = B.require(path)[name]
    if (cls != null && typeof cls.prototype[method] === "function") { return cls }
  } catch (e) { }
  console.warn(`real-ensemble-lab: BokehJS has no ${name}.${method}; patch not applied`)
  return null
}
// 1. a stylesheet write that would not change its text is skipped
const sheet = need("core/dom", "InlineStyleSheet", "_update")
if (sheet != null) {
  const update = sheet.prototype._update
  sheet.prototype._update = function (css) {
    if (this.el == null || this.el.textContent !== css) { update.call(this, css) }
  }
}
// 2. CSS-variable reads are cached until the current task ends (as bokeh/bokeh#15205)
const visual = need("core/visuals/visual", "VisualProperties", "_get_css_value")
if (visual != null) {
  const read = visual.prototype._get_css_value
  visual.prototype._get_css_value = function (name) {
    let cache = this.__rel_css
    if (cache == null) {
      cache = this.__rel_css = new Map()
      queueMicrotask(() => { this.__rel_css = null })
    }
    let value = cache.get(name)
    if (value === undefined) {
      value = read.call(this, name)
      cache.set(name, value)
    }
    return value
  }
}
// 3. a glyph renderer's (empty) element follows its glyph's bounds at most once a second
const glyph = need("models/renderers/glyph_renderer", "GlyphRendererView", "update_position")
if (glyph != null) {
  const place = B.__rel_place = glyph.prototype.update_position  // kept for tests
  glyph.prototype.update_position = function () {
    const now = performance.now()
    if (this.__rel_placed == null || now - this.__rel_placed >= 1000) {
      this.__rel_placed = now
      place.call(this)
    } else if (this.__rel_place_timer == null) {
      this.__rel_place_timer = setTimeout(() => {
        this.__rel_place_timer = null
        this.__rel_placed = performance.now()
        place.call(this)
      }, 1000)
    }
  }
}
// 4. the status bar (class rel-status): its figures change on every frame, its structure
// seldom. New HTML of the same structure is written into the nodes already there (text
// and attributes) instead of replacing them all (Panel's HTML view sets innerHTML)
const markup = B.Models.get("panel.models.markup.HTML")?.prototype?.default_view
if (markup != null && typeof markup.prototype.set_html === "function") {
  const set_html = markup.prototype.set_html
  const fresh = document.createElement("template")
  // same structure: the same node types and names, child for child, all the way down
  const alike = (a, b) => a.childNodes.length === b.childNodes.length
    && [...a.childNodes].every((n, i) => {
      const m = b.childNodes[i]
      return n.nodeType === m.nodeType && n.nodeName === m.nodeName && alike(n, m)
    })
  // b's text and attributes into a's children, which are alike
  const write = (a, b) => a.childNodes.forEach((n, i) => write_node(n, b.childNodes[i]))
  const write_node = (a, b) => {
    if (a.nodeType === Node.TEXT_NODE) {
      if (a.nodeValue !== b.nodeValue) { a.nodeValue = b.nodeValue }
      return
    }
    if (a.nodeType === Node.ELEMENT_NODE) {
      for (const {name} of [...a.attributes]) {
        if (!b.hasAttribute(name)) { a.removeAttribute(name) }
      }
      for (const {name, value} of b.attributes) {
        if (a.getAttribute(name) !== value) { a.setAttribute(name, value) }
      }
    }
    write(a, b)
  }
  markup.prototype.set_html = function (html) {
    const box = this.container
    if (html != null && box != null && this.model.css_classes.includes("rel-status")) {
      fresh.innerHTML = html
      if (alike(box, fresh.content)) {
        write(box, fresh.content)
        return
      }
    }
    return set_html.call(this, html)
  }
} else { console.warn("real-ensemble-lab: Panel has no HTML view; patch not applied") }
// 5. at most one update from the server per displayed frame: an update that arrives before
// the previous one was shown waits for the next frame instead of being merged into it, so
// frames sent close together are both drawn. A burst (more than three waiting), a hidden
// page (no animation frames there) or a frame that does not come within 100 ms lets the
// waiting updates through at once, in order.
const session = need("client/session", "ClientSession", "_handle_patch")
if (session != null) {
  const apply = session.prototype._handle_patch
  const HELD_MAX = 3
  session.prototype._handle_patch = function (message) {
    const s = this
    if (s.__rel_held == null) { s.__rel_held = []; s.__rel_shown = true }
    s.__rel_held.push(message)
    if (s.__rel_shown || document.hidden || s.__rel_held.length > HELD_MAX) {
      release(s, s.__rel_held.length)
    }
  }
  const release = (s, count) => {
    for (const message of s.__rel_held.splice(0, count)) {
      try { apply.call(s, message) } catch (e) { console.error(e) }
    }
    s.__rel_shown = false
    const token = s.__rel_token = {}
    const next = () => {
      if (s.__rel_token !== token) { return }
      s.__rel_token = null
      s.__rel_shown = true
      if (s.__rel_held.length > 0) { release(s, 1) }
    }
    // after the frame that shows this update has been painted
    requestAnimationFrame(() => setTimeout(next, 0))
    setTimeout(next, 100)
  }
}
"""


#: Names and keyboard access that BokehJS, Panel and the Fast template leave out (issue 18;
#: found by axe-core in ``tests/test_a11y_browser.py``). Each view's ``render`` is wrapped
#: to add what is missing after the original ran; what it cannot find, it leaves alone.
A11Y_JS = """
const B = window.Bokeh
if (B == null || B.__rel_a11y) { return }
B.__rel_a11y = true
const warn = (what) => console.warn(`real-ensemble-lab: ${what}; accessibility patch not applied`)
const bokeh_view = (path, name) => {
  try {
    const cls = B.require(path)[name]
    if (cls != null && typeof cls.prototype.render === "function") { return cls }
  } catch (e) { }
  warn(`BokehJS has no ${name}`)
  return null
}
const panel_view = (model) => {
  const cls = B.Models.get(model)?.prototype?.default_view
  if (cls != null && typeof cls.prototype.render === "function") { return cls }
  warn(`Panel has no view of ${model}`)
  return null
}
// run fn(view) after cls.prototype[method], from now on and (below) once for the views
// already on the page; an error in fn never breaks the page
const hooks = []
const safely = (fn, view) => {
  try { fn(view) } catch (e) { console.warn("real-ensemble-lab: a11y", e) }
}
const after = (cls, method, fn) => {
  if (cls == null || typeof cls.prototype[method] !== "function") { return }
  const orig = cls.prototype[method]
  cls.prototype[method] = function (...args) {
    const out = orig.apply(this, args)
    safely(fn, this)
    return out
  }
  hooks.push([cls, fn])
}
const plain = (html) => {
  const el = document.createElement("div")
  el.innerHTML = html
  return el.textContent.replace(/\\s+/g, " ").trim()
}
// The name of a widget: its title, else (Panel's EditableFloatSlider, DiscreteSlider) the
// label its composite shows beside it, a text up to two levels down from its parent.
const name_of = (view) => {
  const title = view.model.title
  if (typeof title === "string" && title.trim()) { return title.trim().replace(/:$/, "") }
  let level = view.parent?.child_views ?? []
  for (let depth = 0; depth < 2; depth++) {
    for (const child of level) {
      const text = child.model?.text
      if (typeof text === "string" && text.trim()) {
        return plain(text.replace(/<b>.*<\\/b>/, "")).replace(/:$/, "")
      }
    }
    level = level.flatMap((child) => child.child_views ?? [])
  }
  return null
}
// A help icon (Bokeh's description, Panel's TooltipIcon) opens its tooltip on hover only:
// make it a focusable button named by its text that opens the tooltip on focus.
const help = (el, tooltip) => {
  if (el == null || el.hasAttribute("role")) { return }
  const content = tooltip?.content ?? tooltip  // a string, or an HTML model (html: parts)
  const html = typeof content === "string" ? content : [content?.html ?? []].flat()
    .filter((part) => typeof part === "string").join(" ")
  const text = plain(html)
  el.tabIndex = 0
  el.setAttribute("role", "button")
  el.setAttribute("aria-label", text ? `Help: ${text}` : "Help")
  el.addEventListener("focus", () => el.dispatchEvent(new Event("mouseenter")))
  el.addEventListener("blur", () => el.dispatchEvent(new Event("mouseleave")))
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {  // pins or unpins it, as a click does
      e.preventDefault()
      el.dispatchEvent(new MouseEvent("mousedown", {bubbles: true, composed: true}))
    } else if (e.key === "Escape") {
      el.dispatchEvent(new Event("mouseleave"))
    }
  })
}
const inputs = bokeh_view("models/widgets/input_widget", "InputWidgetView")
after(inputs, "render", (view) => {
  help(view.desc_el, view.description)
  const name = name_of(view)
  if (name == null) { return }
  if (!(typeof view.model.title === "string" && view.model.title.trim())) {
    view.input_el?.setAttribute("aria-label", name)  // its own label is hidden
  }
  // spinner arrows: mouse only (the arrow keys in the field do the same), so named for
  // screen readers and out of the tab order
  for (const [el, what] of [[view.btn_up_el, "Increase"], [view.btn_down_el, "Decrease"]]) {
    if (el == null) { continue }
    el.setAttribute("aria-label", `${what} ${name}`)
    el.tabIndex = -1
  }
})
const sliders = bokeh_view("models/widgets/sliders/abstract_slider", "AbstractSliderView")
after(sliders, "render", (view) => {
  const name = name_of(view)
  if (name == null) { return }
  for (const handle of view.shadow_el.querySelectorAll(".noUi-handle")) {
    handle.setAttribute("aria-label", name)
  }
})
after(bokeh_view("models/widgets/checkbox", "CheckboxView"), "render", (view) => {
  view.checkbox_el?.setAttribute("aria-label", view.model.label)
})
after(panel_view("panel.models.widgets.TooltipIcon"), "render", (view) => {
  help(view.desc_el, view.model.description)
})
const card = panel_view("panel.models.layout.Card")
const expanded = (view) => view.button_el?.setAttribute("aria-expanded",
                                                        String(!view.model.collapsed))
after(card, "render", expanded)
after(card, "_collapse", expanded)
// A plot's event layer takes the focus (for key-driven tools, which these plots have
// none of) with no name: out of the tab order; the captions say what each plot shows.
after(bokeh_view("models/canvas/canvas", "CanvasView"), "render", (view) => {
  if (view.events_el != null) { view.events_el.tabIndex = -1 }
})
// Tabulator (the matrix editor) makes its scrolling body focusable inside role="grid",
// where only rows may be (axe: aria-required-children); the editable cells take the focus
// themselves, and the body scrolls to them
after(panel_view("panel.models.tabulator.DataTabulator"), "tableBuilt", (view) => {
  view.tabulator?.element?.querySelector(".tabulator-tableholder")?.removeAttribute("tabindex")
})
// Tabs (Live ensemble, Studies): Bokeh draws the headers above the panels but puts them
// after the panels in the DOM, so the keyboard reached them after every plot; and they
// open on a click only. Headers first (the grid places them, not the DOM order), as an
// ARIA tablist: the active tab takes the focus, the arrows move it, Enter or Space opens.
const tabs = bokeh_view("models/layouts/tabs", "TabsView")
const tab_state = (view) => {
  const els = view.header_els ?? []
  const focus = els.indexOf(view.shadow_el?.activeElement)
  els.forEach((el, i) => {
    const on = i === view.model.active
    el.setAttribute("aria-selected", String(on))
    el.tabIndex = (focus >= 0 ? i === focus : on) ? 0 : -1
  })
}
after(tabs, "render", (view) => {
  const header = view.header_el
  const first = [...view.shadow_el.children].find((el) => el !== header &&
    !["STYLE", "LINK"].includes(el.tagName))
  if (header != null && first != null && header.parentNode === view.shadow_el) {
    view.shadow_el.insertBefore(header, first)
  }
})
const tablist = (view) => {
  view.headers_wrapper_el?.setAttribute("role", "tablist")
  const els = view.header_els ?? []
  els.forEach((el, i) => {
    el.setAttribute("role", "tab")
    el.addEventListener("keydown", (e) => {
      const to = {ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: els.length - 1}[e.key]
      if (to != null) {
        e.preventDefault()
        const next = els[(to + els.length) % els.length]
        els.forEach((other) => { other.tabIndex = other === next ? 0 : -1 })
        next.focus()
      } else if ((e.key === "Enter" || e.key === " ") && !view.model.disabled) {
        e.preventDefault()
        view.change_active(i)
      }
    })
  })
  tab_state(view)
}
// the headers are made anew when the tabs change (Panel's dynamic tabs, on opening one):
// the focus stays on the same tab
if (tabs != null && typeof tabs.prototype._update_headers === "function") {
  const update = tabs.prototype._update_headers
  tabs.prototype._update_headers = function (...args) {
    const had = (this.header_els ?? []).indexOf(this.shadow_el?.activeElement)
    const out = update.apply(this, args)
    if (had >= 0) { this.header_els?.[had]?.focus({preventScroll: true}) }
    safely(tablist, this)
    return out
  }
  hooks.push([tabs, tablist])
}
after(tabs, "update_active", tab_state)
// A button re-rendered while it has the focus (Play becomes Pause) keeps it, so Space or
// Enter pauses again.
const buttons = bokeh_view("models/widgets/abstract_button", "AbstractButtonView")
if (buttons != null) {
  const render = buttons.prototype.render
  buttons.prototype.render = function (...args) {
    const had = this.button_el != null && this.shadow_el?.activeElement === this.button_el
    const out = render.apply(this, args)
    if (had && this.button_el != null) { this.button_el.focus({preventScroll: true}) }
    return out
  }
}
// The Fast template: its sidebar button is a span (no keyboard, no name), its tooltip
// covers the title on a phone, the logo repeats the title's link without a name, the
// sidebar is a list of divs, and the sidebar comes before the main area in the tab order.
const bar = document.getElementById("sidebar-button")
const sidebar = document.getElementById("sidebar")
if (bar != null && sidebar != null) {
  bar.setAttribute("role", "button")
  bar.tabIndex = 0
  bar.setAttribute("aria-label", "Show or hide the controls")
  bar.setAttribute("aria-controls", "sidebar")
  const state = () => bar.setAttribute("aria-expanded",
                                       String(!sidebar.classList.contains("hidden")))
  state()
  new MutationObserver(state).observe(sidebar, {attributes: true, attributeFilter: ["class"]})
  bar.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); bar.click() }
  })
  sidebar.setAttribute("role", "complementary")
  sidebar.setAttribute("aria-label", "Controls")
  sidebar.querySelector("ul.nav")?.setAttribute("role", "none")
  // main first in the tab order (transport, lesson, plots), then the controls; the
  // sidebar stays on the left (app/style.css: #content > #sidebar {order: -1})
  const main = document.getElementById("main")
  if (main != null && main.parentNode === sidebar.parentNode) {
    main.setAttribute("role", "main")
    main.after(sidebar)
  }
} else { warn("the template has no #sidebar-button") }
for (const view of B.index?.all_views?.() ?? []) {
  for (const [cls, fn] of hooks) {
    if (view instanceof cls) { safely(fn, view) }
  }
}
// The page's one top-level heading: the title in the header (the app's name)
const title = document.querySelector("#header .app-header a.title")
if (title != null && document.querySelector("h1") == null) {
  const h1 = document.createElement("h1")
  h1.className = "rel-title"
  title.before(h1)
  h1.append(title)
} else if (title == null) { warn("the template has no title in its header") }
// (its tooltip: below and to the right, off the title; hidden on phones, app/style.css)
document.querySelector('fast-tooltip[anchor="sidebar-button"]')
  ?.setAttribute("position", "bottom-right")
for (const logo of document.querySelectorAll("a.navbar-brand")) {
  logo.tabIndex = -1
  logo.setAttribute("aria-hidden", "true")
  logo.querySelector("img")?.setAttribute("alt", "")
}
"""


def install(doc) -> None:
    """Install the patches in the browser page of ``doc`` (a Bokeh document)."""
    doc.js_on_event("document_ready", CustomJS(code=PATCH_JS))
    doc.js_on_event("document_ready", CustomJS(code=A11Y_JS))


log = logging.getLogger("real_ensemble_lab.app.patches")


def undebounced(widget):
    """Handle the widget's changes from the page at once. Panel (1.x) waits
    ``Syncable._debounce`` = 50 ms before it processes a change that arrives from the
    browser; measured on the live dashboard that was a fifth of the slider-to-screen time.
    An editable slider is a composite: the changes arrive at its inner slider and text box
    (``_slider``, ``_value_edit``), which are patched too (on the composite alone the patch
    did nothing: 2026-12-03, 105 ms from the key press to the server's event)."""
    parts = [widget, *(getattr(widget, k) for k in ("_slider", "_value_edit")
                       if getattr(widget, k, None) is not None)]
    if isinstance(widget, pn.widgets.CompositeWidget) and len(parts) == 1:
        log.warning("%s has no _slider or _value_edit any more; its changes wait Panel's "
                    "debounce", type(widget).__name__)
    for w in parts:
        if not hasattr(w, "_debounce"):
            log.warning("Panel widgets have no _debounce any more; the patch was not applied")
            return widget
        w._debounce = 0
    return widget


def not_busy(*names: str):
    """Changes of ``names`` that arrive from the page do not count as the server being busy.

    Panel (1.x) marks the session busy while it processes any change from the page, and the
    template's busy indicator follows: a model update to the page when it starts and
    another when it ends. The frame pacer's acknowledgement arrives once per frame, so
    that was two extra updates and their design work per frame (bench_app, 2026-12-03:
    about a tenth of the server's main thread). Panel lists such properties in the class
    attribute ``_busy__ignore`` (its scrolling layouts do so for ``scroll_position``)."""
    def decorate(cls):
        if not isinstance(getattr(cls, "_busy__ignore", None), list):
            log.warning("Panel components have no _busy__ignore list any more; %s's "
                        "changes count as busy", cls.__name__)
            return cls
        cls._busy__ignore = [*cls._busy__ignore, *names]
        return cls

    return decorate


class LinkLedger:
    """The JavaScript links a session's components registered, to forget them at its end.

    Panel (1.9) keeps every ``jscallback``/``jslink`` in ``panel.links.Callback.registry``,
    a WeakKeyDictionary keyed by the source widget. Its editable sliders link their text
    box to their slider (``args={'slider': ...}``), and the slider's watchers lead back to
    the text box: the value keeps its own key alive, so the entry, the widget and through
    it the whole dashboard of a closed session are never freed (bench_app, 2026-12-03: +81
    and +139 MiB per 20 sessions opened and closed; every EnsembleApp stayed in memory).
    Open a ledger before the session builds its components, ``seal`` it once they are
    built, wrap later rebuilds (a preset's sliders) in ``collecting()``, and ``close`` it
    when the session ends: the entries added in those spans are removed. (Components are
    built on the server's one event-loop thread, so no other session's links land in
    between.)"""

    def __init__(self) -> None:
        self._registry = _link_registry()
        self._before = set(map(id, self._registry.keys())) if self._registry is not None \
            else set()
        self._mine: list = []

    def seal(self) -> None:
        """Everything registered since the ledger opened belongs to this session."""
        if self._registry is not None:
            self._mine += [weakref.ref(k) for k in list(self._registry.keys())
                           if id(k) not in self._before]
            self._before = set()

    @contextmanager
    def collecting(self):
        """Links registered inside the block belong to this session too."""
        if self._registry is None:
            yield
            return
        before = set(map(id, self._registry.keys()))
        try:
            yield
        finally:
            self._mine += [weakref.ref(k) for k in list(self._registry.keys())
                           if id(k) not in before]

    def close(self) -> int:
        """Forget this session's links; return how many sources were dropped."""
        if self._registry is None:
            return 0
        dropped = 0
        for ref in self._mine:
            source = ref()
            if source is not None and self._registry.pop(source, None) is not None:
                dropped += 1
        self._mine = []
        return dropped


def _link_registry():
    try:
        from panel.links import Callback
    except ImportError:
        Callback = None
    registry = getattr(Callback, "registry", None)
    if not isinstance(registry, weakref.WeakKeyDictionary):
        log.warning("panel.links.Callback.registry is gone; a closed session's JavaScript "
                    "links are not forgotten (no leak if Panel fixed it)")
        return None
    return registry


def pin_local_stylesheets() -> None:
    """Serve every component stylesheet from this server, never from Panel's CDN.

    Panel 1.9 resolves the stylesheet URL of a model update through
    ``doc._template_variables['dist_url']``, which is only set when the page is rendered;
    an update made before that points at cdn.holoviz.org, which fails offline. Set it as
    the page render would, up front.
    """
    import panel as pn

    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return
    try:
        from panel.io.resources import LOCAL_DIST
    except ImportError:
        log.warning("panel.io.resources.LOCAL_DIST is gone; stylesheets not pinned")
        return
    variables = getattr(doc, "_template_variables", None)
    if not isinstance(variables, dict):
        log.warning("Bokeh documents have no _template_variables; stylesheets not pinned")
        return
    rel = pn.state.rel_path
    variables.setdefault("dist_url", f"{rel}/{LOCAL_DIST}" if rel else LOCAL_DIST)


def offline_fast():
    """The Fast design without the external web font, so the page loads nothing from
    outside. Panel finds the design's bundled files by class name, hence the same name."""
    from panel.theme.fast import Fast

    resources = getattr(Fast, "_resources", None)
    if not isinstance(resources, dict) or "font" not in resources:
        log.warning("Panel's Fast design has no 'font' resource; using it unchanged")
        return Fast
    return type("Fast", (Fast,), {
        "_resources": {k: v for k, v in resources.items() if k != "font"},
        "__doc__": "Panel's Fast design without the external web font.",
    })


def _text_html():
    """An HTML pane whose new ``object`` sets its model's ``text`` alone.

    ``HTML._update`` recomputes and re-sets every property of the model (design and theme
    modifiers, stylesheets, sizing) each time ``object`` changes: about 5 ms of the
    server's thread per frame for the status bar (its text changes with every frame; its
    other properties follow their own parameters through Panel's ordinary path). Panes
    whose text changes often use it; others keep Panel's.
    """
    base = pn.pane.HTML
    if not callable(getattr(base, "_update", None)) or \
            not callable(getattr(base, "_transform_object", None)):
        log.warning("Panel's HTML pane has no _update or _transform_object any more; the "
                    "status bar updates through Panel's full path")
        return base

    class TextHTML(base):
        def _update(self, ref, model) -> None:
            if self.enable_streaming:  # Panel's own path for streamed text
                return super()._update(ref, model)
            model.text = self._transform_object(self.object)["object"]

    return TextHTML


#: ``pn.pane.HTML`` whose object updates send the text alone (see :func:`_text_html`).
TextHTML = _text_html()


def design_params_only_for_stylesheets() -> None:
    """``Reactive._update_properties`` (Panel 1.9) computes the component's design
    parameters (theme modifiers, stylesheets, resolving file paths on disk) on every
    parameter change, and uses them only when ``stylesheets`` is among the changes. The
    frame pacer's counter changes with every frame: that computation was about 3 ms of the
    server's thread per frame. The patch computes them only then; otherwise it returns
    what Panel returns, the changes through ``_process_param_change``."""
    import inspect

    from panel.reactive import Reactive, Syncable

    original = Reactive.__dict__.get("_update_properties")
    if getattr(original, "_rel_patched", False):
        return
    try:
        source = inspect.getsource(original)
    except (OSError, TypeError):
        source = ""
    if "self._design.params" not in source or "'stylesheets' in changes" not in source \
            or not callable(Syncable.__dict__.get("_update_properties")):
        log.warning("Panel's Reactive._update_properties is not the one patched (Panel 1.9); "
                    "every parameter change still recomputes the design's parameters")
        return

    def _update_properties(self, *events, doc):
        if any(e.name == "stylesheets" for e in events):
            return original(self, *events, doc=doc)
        return Syncable._update_properties(self, *events, doc=doc)

    _update_properties._rel_patched = True
    _update_properties.__wrapped__ = original  # Panel's own (tests compare the two)
    Reactive._update_properties = _update_properties


def connections(doc) -> int | None:
    """The number of browser connections of ``doc``'s server session (None where there is
    no server session, or Bokeh no longer keeps it where this looks)."""
    context = getattr(doc, "session_context", None)
    session = getattr(context, "_session", None)  # BokehSessionContext's, private
    count = getattr(session, "connection_count", None)  # ServerSession's, public
    if context is not None and count is None and not _warned_connections:
        _warned_connections.append(True)
        log.warning("patches.connections: Bokeh's session context has no _session with a "
                    "connection_count; a closed page's engine plays on until its session "
                    "is discarded")
    return count


_warned_connections: list[bool] = []


def collect_with(heap) -> bool:
    """Panel's collection after a session ends (``panel.io.document._garbage_collect``, a
    full ``gc.collect()`` five seconds after the last session ended) goes through ``heap``
    (:class:`app.heap.Heap`): unfrozen, collected and frozen again once the heap says it
    is due (after Panel's own 5 s wait), looked at again until then. Panel looks the
    function up by name each time a session ends. Returns whether the patch applied."""
    from datetime import datetime, timedelta

    import panel.io.document as pdoc

    if not all(hasattr(pdoc, n) for n in ("_garbage_collect", "_panel_last_cleanup",
                                           "GC_DEBOUNCE")):
        log.warning("Panel has no io.document._garbage_collect any more; its full "
                    "collection after each session stops the server for seconds")
        return False
    if getattr(pdoc._garbage_collect, "_rel_patched", False):
        return True

    def _garbage_collect() -> None:
        # Panel's own debounce first: 5 s after the last session ended
        quiet = pdoc.GC_DEBOUNCE - (time.monotonic() - pdoc._panel_last_cleanup)
        wait = quiet if quiet > 0 else heap.collect()
        if wait is not None:
            pn.state.schedule_task("gc.collect", _garbage_collect,
                                   at=datetime.now() + timedelta(seconds=wait))

    _garbage_collect._rel_patched = True
    pdoc._garbage_collect = _garbage_collect
    return True
