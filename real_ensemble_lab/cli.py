"""The ``real-ensemble-lab`` command: ``serve`` the dashboard, or one of the engine's commands
(``run | sweep | lesson | presets | bench | chsh | signalling``,
real_ensemble_lab.engine.tools.cli).

``serve`` runs ``panel serve`` on the installed dashboard (real_ensemble_lab/app), from any
directory; options it does not know are handed to ``panel serve`` unchanged.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.resources import files

PROG = "real-ensemble-lab"
#: What the dashboard imports beyond the engine: the [app] extra (with [studies]).
APP_MODULES = ("panel", "bokeh", "holoviews", "pandas", "pyarrow", "distributed")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{PROG} serve",
        description="Serve the dashboard (panel serve) on http://ADDRESS:PORT/app.",
        epilog="Any other option goes to `panel serve` unchanged (see `panel serve --help`), "
        "e.g. --num-procs 2, --admin, --basic-auth FILE, --check-unused-sessions MS. "
        "Server-wide limits come from the REAL_ENSEMBLE_LAB_* environment variables "
        "(README, 'Hosting a class').")
    p.add_argument("--port", type=int, default=5006, help="port to listen on (default: 5006)")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to listen on; 0.0.0.0 for every interface (default: 127.0.0.1)")
    p.add_argument("--allow-websocket-origin", action="append", default=[], metavar="HOST[:PORT]",
                   help="host:port the browser connects to (repeatable); default: "
                   "$BOKEH_ALLOW_WS_ORIGIN when set, else localhost:PORT and 127.0.0.1:PORT")
    p.add_argument("--plugins", action="append", default=[], metavar="MODULE",
                   help="another panel plugin module (repeatable); "
                   "real_ensemble_lab.app.routes (GET /runners) is always loaded")
    return p


def panel_argv(ns: argparse.Namespace, rest: Sequence[str]) -> list[str]:
    """The ``panel serve`` command line for the parsed ``serve`` options."""
    app_dir = files("real_ensemble_lab.app")  # a folder named app: the page is /app
    argv = ["panel", "serve", str(app_dir), "--index", "app", "--liveness",
            "--address", ns.address, "--port", str(ns.port),
            "--plugins", "real_ensemble_lab.app.routes", *ns.plugins]
    origins = list(ns.allow_websocket_origin)
    if not origins and not os.environ.get("BOKEH_ALLOW_WS_ORIGIN"):
        origins = [f"localhost:{ns.port}", f"127.0.0.1:{ns.port}"]
        if ns.address not in (*LOOPBACK, "0.0.0.0", "::"):
            origins.append(f"{ns.address}:{ns.port}")
    for origin in origins:
        argv.append(f"--allow-websocket-origin={origin}")
    return [*argv, *rest]


def serve(args: Sequence[str]) -> int:
    ns, rest = serve_parser().parse_known_args(args)
    missing = [m for m in APP_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        print(f"error: The dashboard needs {', '.join(missing)}, which come with the 'app' "
              f"extra: pip install 'real-ensemble-lab[app]'.", file=sys.stderr)
        return 2
    from real_ensemble_lab.engine import SetupError, require_threadsafe_layer

    try:
        require_threadsafe_layer()  # one sentence now, not an abort when sessions overlap
    except SetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from panel.command import main as panel_main

    sys.argv = panel_argv(ns, rest)
    panel_main()  # serves until interrupted; exits itself on a bad option
    return 0


def _register_serve(sub) -> None:
    """``serve`` in the engine parser's help; main() hands it to :func:`serve` first."""
    sub.add_parser("serve", help="serve the dashboard (see 'serve --help')", add_help=False)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        return serve(argv[1:])
    from real_ensemble_lab.engine.tools import cli

    return cli.main(argv, prog=PROG, extra_commands=[_register_serve])


if __name__ == "__main__":
    sys.exit(main())
