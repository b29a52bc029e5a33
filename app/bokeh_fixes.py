"""A BokehJS (3.9) hot-path workaround, installed in the browser when a page is ready.

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

from bokeh.models import CustomJS

#: Runs once per page (the flag makes repeated installs harmless).
PATCH_JS = """
const B = window.Bokeh
if (B == null || B.__rel_style_patch) { return }
B.__rel_style_patch = true
const need = (path, name, method) => {
  try {
    const cls = B.require(path)[name]
    return cls != null && typeof cls.prototype[method] === "function" ? cls : null
  } catch (e) { return null }
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
