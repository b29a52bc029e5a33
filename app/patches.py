"""Every workaround of a Panel or Bokeh private API, in one place (made for Panel 1.9 and
Bokeh 3.9, the versions pinned in pyproject.toml). Each one checks that what it patches is
there and logs a warning when it is not, so an upgrade shows in the server log instead of
failing quietly.

1. ``install(doc)``: a BokehJS hot-path workaround, installed in the browser when a page is
   ready (below).
2. ``undebounced(widget)``: Panel's 50 ms debounce of browser changes, off.
3. ``pin_local_stylesheets()``: component stylesheets always from this server.
4. ``OfflineFast``: Panel's Fast design without its Google web font.

The BokehJS workaround:

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

Same CSS, same visuals, same pictures. The patch checks for the prototypes it touches and
leaves alone whatever a future BokehJS no longer has.
"""

from __future__ import annotations

import logging

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
"""


def install(doc) -> None:
    """Install the patch in the browser page of ``doc`` (a Bokeh document)."""
    doc.js_on_event("document_ready", CustomJS(code=PATCH_JS))


log = logging.getLogger("app.patches")


def undebounced(widget):
    """Handle the widget's changes from the page at once. Panel (1.x) waits
    ``Syncable._debounce`` = 50 ms before it processes a change that arrives from the
    browser; measured on the live dashboard that was a fifth of the slider-to-screen time."""
    if not hasattr(widget, "_debounce"):
        log.warning("Panel widgets have no _debounce any more; the patch was not applied")
        return widget
    widget._debounce = 0
    return widget


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
