"""Command line: ``real-ensemble-lab presets | run | bench | sweep | lesson | chsh | signalling``
(``python -m engine ...`` in a checkout, ``python -m real_ensemble_lab.engine ...`` anywhere).

Options of ``run`` are generated from the parameter spec (engine/core/params.py), so the
command line, the dashboard and the sweeps cannot disagree about a parameter.
Invalid input, or a command whose optional dependencies are not installed: exit status 2 and
one sentence on standard error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..core.errors import InputError, SetupError, missing_extra
from ..core.params import SimParams, bounds_text, param_names

EXIT_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one sentence, exit 2
        raise InputError(message[0].upper() + message[1:].rstrip(".") + ".")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_param_options(p: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
    """One ``--name`` option per simulation parameter, help text from its doc."""
    for name in names or param_names():
        spec = SimParams.param[name]
        kw: dict[str, Any] = {"dest": name, "default": None, "help": f"{spec.doc} "
                              f"({bounds_text(name)}; default: {spec.default})"}
        if getattr(spec, "objects", None):
            kw["choices"] = list(spec.objects)
        p.add_argument(_flag(name), **kw)


def collect_params(ns: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(ns, k) for k in param_names() if getattr(ns, k, None) is not None}


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items or ():
        if "=" not in item:
            raise InputError(f"--set needs KEY=VALUE, not {item!r}.")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def load_hamiltonian(preset: str | None, sets: Sequence[str], path: str | None):
    from ..core.hamiltonian import Hamiltonian
    from ..core.presets import build

    if path is not None:
        if sets:
            raise InputError("--set applies to presets only, not to --hamiltonian files.")
        return Hamiltonian.from_json(path)
    return build(preset, **parse_sets(sets))


def cmd_presets(ns: argparse.Namespace) -> int:
    from ..core.presets import preset_info, preset_names

    if ns.json:
        print(json.dumps({k: preset_info(k) for k in preset_names()}, indent=1))
        return 0
    for name in preset_names():
        info = preset_info(name)
        print(f"{name}: {info['title']}")
        print("    " + " ".join(info["description"].split()))
        for key, spec in info["params"].items():
            rng = spec["objects"] if "objects" in spec else spec["bounds"]
            unit = f" in {spec['unit']}" if spec.get("unit") else ""
            print(f"    --set {key}={spec['default']}  {rng}{unit}  {spec.get('doc', '')}")
        print()
    return 0


def cmd_run(ns: argparse.Namespace) -> int:
    from ..core._files import check_out_file
    from ..core.params import make_params
    from ..core.simulate import OUT_SUFFIXES, output_times, simulate, write_csv

    if (ns.preset is None) == (ns.hamiltonian is None):
        raise InputError("Give exactly one of --preset NAME or --hamiltonian FILE.json.")
    params = make_params(**collect_params(ns))
    output_times(params.t_end, params.dt_out)
    if ns.out is not None:  # before the run, not after it
        check_out_file(ns.out, OUT_SUFFIXES)
        if ns.out.endswith(".parquet"):
            import pyarrow  # noqa: F401 - the [studies] extra, needed at the end of the run
    ham = load_hamiltonian(ns.preset, ns.set, ns.hamiltonian)
    protocol = None
    if ns.protocol is not None:
        from ..core.protocol import Protocol

        protocol = Protocol.from_json(ns.protocol)
        protocol.matrices(ham)  # sizes checked before the run starts
    res = simulate(ham, params, protocol=protocol)
    if ns.out is None:
        write_csv(res.columns(), sys.stdout)
    else:
        res.write(ns.out)
        print(f"wrote {ns.out} ({len(res.t)} rows, {res.wall_time:.3g} s, seed {res.seed})",
              file=sys.stderr)
    return 0


def build_parser(prog: str = "python -m engine",
                 extra_commands: Sequence[Callable[[Any], None]] = ()) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Real Ensemble Lab: simulations, sweeps, lessons.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sp = sub.add_parser("presets", help="list presets and their parameters")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=cmd_presets)

    sp = sub.add_parser("run", help="run one simulation and write its time series")
    sp.add_argument("--preset", help="preset name (see 'presets')")
    sp.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                    help="preset parameter (repeatable)")
    sp.add_argument("--hamiltonian", metavar="FILE.json", help="custom Hamiltonian file")
    sp.add_argument("--protocol", metavar="FILE.json",
                    help="segments of H(t): {\"segments\": [{\"duration\": T, \"H\": "
                    "[[[re, im], ...], ...]}, ...]}; a segment without H holds the run's own "
                    "(engine/core/protocol.py)")
    sp.add_argument("--out", metavar="FILE.csv|FILE.parquet",
                    help="output file (CSV on standard output without it)")
    add_param_options(sp)
    sp.set_defaults(func=cmd_run)

    for register in (*_commands(), *extra_commands):
        register(sub)
    return p


def _commands() -> list[Callable[[Any], None]]:
    """The sub-commands defined in other modules (each adds itself with ``register``); they
    import their optional packages only when run."""
    from ..studies import command as sweep
    from . import bench, chsh, lessons, signalling

    return [bench.register, sweep.register, lessons.register, chsh.register,
            signalling.register]


def main(argv: Sequence[str] | None = None, prog: str = "python -m engine",
         extra_commands: Sequence[Callable[[Any], None]] = ()) -> int:
    """Run one command; the exit status (2: one sentence on standard error)."""
    try:
        ns = build_parser(prog, extra_commands).parse_args(argv)
        if ns.command != "presets":  # every other command may run parallel kernels
            from ..core._jit import require_threadsafe_layer

            require_threadsafe_layer()
        return ns.func(ns)
    except (InputError, SetupError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except ModuleNotFoundError as err:
        sentence = missing_extra(err)
        if sentence is None:
            raise
        print(f"error: {sentence}", file=sys.stderr)
        return EXIT_INPUT
    except MemoryError:
        print("error: The run needs more memory than this machine has.", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
        return 0
