"""Render the figures and tables of docs/composite.md (CHSH and signalling against N).

    .venv/bin/python docs/render_composite.py            # ~5-6 minutes on two cores
    .venv/bin/python docs/render_composite.py --quick --out /tmp/x   # a smoke test

Runs engine/tools/chsh.py and engine/tools/signalling.py (population mode; then signalling in the
agents modes and with an admixture), saves three PNGs with matplotlib (Agg) and prints the
tables as Markdown on standard output.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from real_ensemble_lab.engine import build_preset, make_params  # noqa: E402
from real_ensemble_lab.engine.tools.chsh import chsh  # noqa: E402
from real_ensemble_lab.engine.tools.signalling import signalling  # noqa: E402

TSIRELSON = 2 * math.sqrt(2)
#: The CHSH states: phi+ turned on Alice's side (no class starts empty), and plain phi+
#: (two classes start empty) with and without one spectator per class.
CHSH_CASES = [("turned phi+ (theta_A = pi/2, chi_A = 0)", {"chi_A": 0.0}, 0),
              ("plain phi+, 1 spectator", {"theta_A": 0.0, "chi_A": 0.0}, 1),
              ("plain phi+, no spectator", {"theta_A": 0.0, "chi_A": 0.0}, 0)]
#: Signalling: partially entangled, turned on Alice's side (as tests/test_signalling.py).
SIGNAL_STATE = {"state": "partial", "angle": 0.5, "chi_A": 1.5708}
SIGNAL_R = (-0.5, -0.4, 0.0)


def chsh_vs_N(Ns, seeds: int) -> list[dict]:
    rows = []
    for label, values, s in CHSH_CASES:
        ham = build_preset("two_qubits", **values)
        for N in Ns:
            res = chsh(ham, make_params(N=int(N), seed=1, spectators=s), seeds=seeds)
            rows.append({"case": label, "N": int(N), "S": res.S, "S_err": res.S_err,
                         "S_qm": res.S_qm})
    return rows


def signalling_vs_N(Ns, seeds: int) -> list[dict]:
    rows = []
    for s in (0, 1):
        for r in SIGNAL_R:
            for N in Ns:
                out = signalling("two_qubits", SIGNAL_STATE,
                                 make_params(N=int(N), r=r, spectators=s), seeds=seeds)
                lo, hi = out["ci"]
                rows.append({"spectators": s, "r": r, "N": int(N), "delta": out["max_delta"],
                             "half": 0.5 * (hi - lo), "t": out["t"], "zero_in_ci": lo <= 0 <= hi,
                             "qm": out["qm_max_delta"]})
    return rows


#: Part three: signalling in the agents modes and with an admixture, at r = -1/2 and 0.
#: (label, extra parameters); every variant starts from SIGNAL_STATE, no spectators.
VARIANTS = [("agents, phases locked", {"mode": "agents", "phases": "locked"}),
            ("agents, phases dynamic (aligned, f = 0)",
             {"mode": "agents", "phases": "dynamic", "init_phases": "aligned", "f": 0.0}),
            ("population, admixture 0.05", {"admixture": 0.05})]
VARIANT_R = (-0.5, 0.0)


def signalling_variants(plan) -> list[dict]:
    """plan: (variant label, N, seeds) triples; each is run at both VARIANT_R."""
    extra = dict(VARIANTS)
    rows = []
    for label, N, seeds in plan:
        for r in VARIANT_R:
            out = signalling("two_qubits", SIGNAL_STATE,
                             make_params(N=int(N), r=r, **extra[label]), seeds=seeds)
            lo, hi = out["ci"]
            rows.append({"variant": label, "r": r, "N": int(N), "seeds": seeds,
                         "delta": out["max_delta"], "half": 0.5 * (hi - lo), "t": out["t"],
                         "zero_in_ci": lo <= 0 <= hi, "qm": out["qm_max_delta"]})
    return rows


def bell_pair_at_r0(N: int, seeds: int) -> dict:
    """A Bell pair (turned phi+, the preset's default) at r = 0: Alice's marginal."""
    out = signalling("two_qubits", {}, make_params(N=N, r=0.0), seeds=seeds)
    return {"N": N, "delta": out["max_delta"], "ci": out["ci"]}


def plot_chsh(rows, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for (label, _, _), mk in zip(CHSH_CASES, "osv", strict=True):
        sel = [r for r in rows if r["case"] == label]
        ax.errorbar([r["N"] for r in sel], [r["S"] for r in sel],
                    yerr=[r["S_err"] for r in sel], marker=mk, ms=4, capsize=3, label=label)
    ax.axhline(TSIRELSON, color="k", ls="--", lw=1, label="2√2 (Tsirelson)")
    ax.axhline(2.0, color="grey", ls=":", lw=1, label="2 (Bell)")
    ax.set_xscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("CHSH S (mean ± SE over seeds)")
    ax.set_title("CHSH S of the real ensemble (population mode, r = -1/2)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_signalling(rows, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.8), sharey=True)
    Ns = sorted({r["N"] for r in rows})
    for s, ax in zip((0, 1), axes, strict=True):
        for r, mk in zip(SIGNAL_R, "osv", strict=True):
            sel = [x for x in rows if x["spectators"] == s and x["r"] == r]
            y = np.array([abs(x["delta"]) for x in sel])
            half = np.array([x["half"] for x in sel])
            # an interval reaching 0 runs off the bottom of the log axis
            lower = np.minimum(half, y * (1 - 1e-9))
            ax.errorbar([x["N"] for x in sel], y, yerr=[lower, half], marker=mk, ms=4,
                        capsize=3, label=f"r = {r:g}")
        guide = np.array(Ns, dtype=float)
        ax.plot(guide, 1 / np.sqrt(guide), "k--", lw=1, label="1/√N")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(3e-5, 1.5)
        ax.set_xlabel("N")
        ax.set_title(f"{s} spectator{'s' if s != 1 else ''} per class", fontsize=10)
    axes[0].set_ylabel("|largest mean difference| of n_A0/N\n(bars: ±3 SE over seeds)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="center right")
    fig.suptitle("Signalling: Alice's marginal, Bob driven minus Bob idle", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.88, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_variants(rows, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(9.0, 3.8))
    for (label, _), mk in zip(VARIANTS, "osv", strict=True):
        for r, color in zip(VARIANT_R, ("C0", "C3"), strict=True):
            sel = [x for x in rows if x["variant"] == label and x["r"] == r]
            if not sel:
                continue
            y = np.array([abs(x["delta"]) for x in sel])
            half = np.array([x["half"] for x in sel])
            lower = np.minimum(half, y * (1 - 1e-9))
            ax.errorbar([x["N"] for x in sel], y, yerr=[lower, half], marker=mk, ms=4,
                        capsize=3, color=color, mfc="none" if mk != "o" else color,
                        label=f"{label}, r = {r:g}")
    Ns = np.array(sorted({x["N"] for x in rows}), dtype=float)
    ax.plot(Ns, 1 / np.sqrt(Ns), "k--", lw=1, label="1/√N")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(3e-5, 1.5)
    ax.set_xlabel("N")
    ax.set_ylabel("|largest mean difference| of n_A0/N\n(bars: ±3 SE over seeds)")
    ax.set_title("Signalling: agents modes and admixture (no spectators)", fontsize=10)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="center right")
    fig.tight_layout(rect=(0, 0, 0.64, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small N and 2 seeds (a smoke test)")
    ap.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs")
    ns = ap.parse_args(argv)
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    if ns.quick:
        N_chsh, N_sig, seeds_chsh, seeds_sig = [100, 1000], [100, 1000], 2, 2
    else:
        N_chsh = [int(round(10 ** e)) for e in np.arange(2.0, 9.01, 0.5)]
        N_sig = [10**k for k in range(2, 10)]
        seeds_chsh, seeds_sig = 20, 32
    locked, dynamic, admix = (VARIANTS[i][0] for i in range(3))
    if ns.quick:
        plan = [(locked, 1000, 2), (dynamic, 1000, 2), (admix, 1000, 2)]
    else:  # ~3.5 minutes on two cores, most of it the dynamic phases at N = 10^5
        plan = ([(locked, 10**k, 16) for k in range(3, 7)]
                + [(dynamic, 10**k, 16) for k in range(3, 6)]
                + [(admix, 10**k, 16) for k in range(4, 8)])
    t0 = time.perf_counter()
    crows = chsh_vs_N(N_chsh, seeds_chsh)
    plot_chsh(crows, out / "composite_chsh.png")
    srows = signalling_vs_N(N_sig, seeds_sig)
    plot_signalling(srows, out / "composite_signalling.png")
    bell = bell_pair_at_r0(N_sig[-1], seeds_sig)
    t1 = time.perf_counter()
    vrows = signalling_variants(plan)
    plot_variants(vrows, out / "composite_agents.png")
    t_variants = time.perf_counter() - t1

    print(f"### CHSH S against N ({seeds_chsh} seeds each, mean ± SE; quantum S = "
          f"{crows[0]['S_qm']:.4f} for every state)\n")
    print("| N | " + " | ".join(label for label, _, _ in CHSH_CASES) + " |")
    print("|---|" + "---|" * len(CHSH_CASES))
    for N in N_chsh:
        cells = [next(r for r in crows if r["case"] == label and r["N"] == N)
                 for label, _, _ in CHSH_CASES]
        print(f"| {N:.0e} | " + " | ".join(f"{c['S']:.4f} ± {c['S_err']:.4f}" for c in cells)
              + " |")
    print(f"\n### Signalling against N ({seeds_sig} pairs each; Δ = largest mean difference "
          "of n_A0/N over t in [0, 6], ± 3 SE)\n")
    print("| spectators | r | N | Δ | ± 3 SE | 0 in interval | Δ·√N | exact |")
    print("|---|---|---|---|---|---|---|---|")
    for r in srows:
        print(f"| {r['spectators']} | {r['r']:g} | {r['N']:.0e} | {r['delta']:+.2e} | "
              f"{r['half']:.1e} | {'yes' if r['zero_in_ci'] else 'no'} | "
              f"{abs(r['delta']) * math.sqrt(r['N']):.2f} | {r['qm']:.0e} |")
    print(f"\nBell pair (turned phi+) at r = 0, N = {bell['N']:.0e}: Δ = {bell['delta']:+.2e}, "
          f"interval [{bell['ci'][0]:+.2e}, {bell['ci'][1]:+.2e}]")
    print("\n### Signalling in the agents modes and with an admixture (no spectators; "
          "Δ as above, ± 3 SE)\n")
    print("| variant | r | N | pairs | Δ | ± 3 SE | 0 in interval | Δ·√N | exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in vrows:
        print(f"| {r['variant']} | {r['r']:g} | {r['N']:.0e} | {r['seeds']} | "
              f"{r['delta']:+.2e} | {r['half']:.1e} | {'yes' if r['zero_in_ci'] else 'no'} | "
              f"{abs(r['delta']) * math.sqrt(r['N']):.2f} | {r['qm']:.0e} |")
    print(f"agents and admixture part: {t_variants:.1f} s", file=sys.stderr)
    for name in ("composite_chsh.png", "composite_signalling.png", "composite_agents.png"):
        print(f"wrote {out / name} ({(out / name).stat().st_size // 1024} KB)", file=sys.stderr)
    print(f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
