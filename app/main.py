"""Entry point of ``panel serve app``: admit the session, build the dashboard and serve it.

A session is admitted by :mod:`app.hosting` (at most REAL_ENSEMBLE_LAB_MAX_SESSIONS at
once); a visitor beyond that gets a one-line page and no simulation thread. While a page is
built, the process's engines wait (``hosting.PageGate``).
"""

from functools import partial

import panel as pn
from bokeh.settings import settings as bokeh_settings

from real_ensemble_lab.app import hosting, patches, wire
from real_ensemble_lab.app.cost import warm_up
from real_ensemble_lab.app.dashboard import EnsembleApp
from real_ensemble_lab.app.heap import HEAP

# one sentence now rather than an abort when sessions overlap; the layer's workers at the
# engines' niceness (without the routes plugin, the first session starts it)
warm_up(hosting.server().settings.engine_nice, measure=False)
# Bokeh checks every new session's document for layout and model mistakes: about 0.1 s of
# the server's 0.5-1 s per page (py-spy, 2026-12-03), on every visit. The suite checks a
# built page instead (tests/test_app_unit.py, a validated document).
bokeh_settings.perform_document_validation.set_value(False)
# the sessions' objects stay out of the collector's scans; Panel's full collection after
# a session ends waits for ten of them or five minutes (app/heap.py)
patches.collect_with(HEAP)
# a frame's message built without listing the document's models, and written at once
wire.install()
# every extension the page loads, named (once pn.extension has run, Panel loads no other:
# a Tabulator would fail with "Tabulator is not defined"); maths is MathML (app/maths.py)
pn.extension("tabulator")

doc = pn.state.curdoc
# The liveness probe builds a document without a session: nothing to admit or release.
in_session = doc is not None and doc.session_context is not None
host = hosting.server()
ticket = host.sessions.admit() if in_session else None

if in_session and ticket is None:
    pn.Column(pn.pane.Markdown(f"## {host.sessions.full_message()}")).servable(
        title="Real Ensemble Lab")
else:
    # the other sessions' engines wait while this page is built and until it has loaded
    # (the dashboard's own onload work, its controls, comes first: registered before)
    hold = host.gate.hold() if in_session else None
    try:
        if ticket is not None:
            hosting.bind(doc, ticket)
            # a partial, not a closure: this script's globals are gone when the session ends
            pn.state.on_session_destroyed(partial(hosting.end_session, doc, ticket))
        EnsembleApp().servable()
        HEAP.settle()
        pn.state.onload(HEAP.settle)  # after the controls (the dashboard's onload) too
        pn.state.on_session_destroyed(HEAP.session_ended)
        if hold is not None:
            pn.state.onload(partial(host.gate.release, hold))
            pn.state.on_session_destroyed(lambda ctx, gate=host.gate, hold=hold:
                                          gate.release(hold))
    except BaseException:
        # a session that failed to build may never be destroyed: give its place back now
        host.gate.release(hold)
        if ticket is not None:
            hosting.end_session(doc, ticket, None)
        raise
