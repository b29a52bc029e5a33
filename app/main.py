"""Entry point of ``panel serve app``: admit the session, build the dashboard and serve it.

A session is admitted by :mod:`app.hosting` (at most REAL_ENSEMBLE_LAB_MAX_SESSIONS at
once); a visitor beyond that gets a one-line page and no simulation thread.
"""

from functools import partial

import panel as pn

from real_ensemble_lab.app import hosting
from real_ensemble_lab.app.dashboard import EnsembleApp
from real_ensemble_lab.engine import require_threadsafe_layer

require_threadsafe_layer()  # one sentence now rather than an abort when sessions overlap
# MathJax for the lessons' maths; name every extension the page loads (app/maths.py)
pn.extension("mathjax", "tabulator")

doc = pn.state.curdoc
# The liveness probe builds a document without a session: nothing to admit or release.
in_session = doc is not None and doc.session_context is not None
host = hosting.server()
ticket = host.sessions.admit() if in_session else None

if in_session and ticket is None:
    pn.Column(pn.pane.Markdown(f"## {host.sessions.full_message()}")).servable(
        title="Real Ensemble Lab")
else:
    try:
        if ticket is not None:
            hosting.bind(doc, ticket)
            # a partial, not a closure: this script's globals are gone when the session ends
            pn.state.on_session_destroyed(partial(hosting.end_session, doc, ticket))
        EnsembleApp().servable()
    except BaseException:
        # a session that failed to build may never be destroyed: give its place back now
        if ticket is not None:
            hosting.end_session(doc, ticket, None)
        raise
