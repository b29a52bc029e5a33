"""Lessons: the paper's claims as guided demonstrations (issue 6).

The lessons are data (``assets/lessons.yaml``): a preset with its values, simulation
parameters, the controls to highlight and three short texts. This module loads and
validates them, runs a lesson's variants, and draws its handout figures
(``python -m engine lesson NAME --out DIR``; matplotlib, imported only there).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..core.errors import InputError
from ..core.hamiltonian import Hamiltonian
from ..core.params import SimParams, make_params, param_names, params_dict
from ..core.presets import ASSETS, build, check_preset_values, preset_info
from ..core.simulate import Result, simulate

FIGURES = ("populations", "tracked", "deviation", "order", "classical")
TEXTS = ("watch", "try", "means")
#: Controls that a lesson may highlight besides SimParams and preset parameters.
OTHER_CONTROLS = ("speed",)


@dataclass(frozen=True)
class Variant:
    """One run of a lesson: a label, preset values and simulation parameters."""

    label: str
    preset_values: dict[str, Any]
    params: dict[str, Any]


@dataclass(frozen=True)
class Lesson:
    """A validated lesson (see ``assets/lessons.yaml``)."""

    name: str
    number: int
    title: str
    preset: str
    preset_values: dict[str, Any]
    params: dict[str, Any]
    highlight: tuple[str, ...]
    watch: str
    try_: str
    means: str
    figures: tuple[str, ...]
    compare: tuple[Variant, ...] = field(default=())

    def variants(self) -> tuple[Variant, ...]:
        """The runs of the handout: the ``compare`` list, or the lesson itself."""
        return self.compare or (Variant(self.title, self.preset_values, self.params),)

    def hamiltonian(self, variant: Variant | None = None) -> Hamiltonian:
        return build(self.preset, **(variant.preset_values if variant else self.preset_values))

    def sim_params(self, variant: Variant | None = None) -> SimParams:
        return make_params(**(variant.params if variant else self.params))

    def markdown(self) -> str:
        """The lesson's text for the dashboard (a section, h2, under the page's title)."""
        return (f"## Lesson {self.number}: {self.title}\n\n"
                f"**What to watch.** {self.watch}\n\n**What to try.** {self.try_}\n\n"
                f"**What it means.** {self.means}")


def _check(name: str, raw: dict[str, Any]) -> Lesson:
    where = f"Lesson {name!r}"
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be a mapping.")
    known = {"number", "title", "preset", "preset_values", "params", "highlight", "figures",
             "compare", *TEXTS}
    extra = set(raw) - known
    if extra:
        raise InputError(f"{where} has unknown keys {sorted(extra)}.")
    missing = {"number", "title", "preset", "params", *TEXTS} - set(raw)
    if missing:
        raise InputError(f"{where} lacks keys {sorted(missing)}.")
    preset = raw["preset"]
    preset_info(preset)  # InputError for an unknown preset
    pv = dict(raw.get("preset_values") or {})
    params = dict(raw["params"] or {})
    check_preset_values(preset, pv)
    make_params(**params)
    controls = set(param_names()) | set(preset_info(preset)["params"]) | set(OTHER_CONTROLS)
    highlight = tuple(raw.get("highlight") or ())
    for h in highlight:
        if h not in controls:
            raise InputError(f"{where} highlights {h!r}, which is no control of this lesson.")
    figures = tuple(raw.get("figures") or ("populations",))
    for f in figures:
        if f not in FIGURES:
            raise InputError(f"{where} asks for figure {f!r}; figures are {list(FIGURES)}.")
    variants = []
    for item in raw.get("compare") or ():
        if set(item) - {"label", "params", "preset_values"} or "label" not in item:
            raise InputError(f"{where} has a compare entry without a label or with "
                             f"unknown keys: {item}.")
        v = Variant(str(item["label"]), {**pv, **(item.get("preset_values") or {})},
                    {**params, **(item.get("params") or {})})
        check_preset_values(preset, v.preset_values)
        make_params(**v.params)
        variants.append(v)
    return Lesson(name=name, number=int(raw["number"]), title=str(raw["title"]), preset=preset,
                  preset_values=pv, params=params, highlight=highlight,
                  watch=" ".join(str(raw["watch"]).split()),
                  try_=" ".join(str(raw["try"]).split()),
                  means=" ".join(str(raw["means"]).split()),
                  figures=figures, compare=tuple(variants))


def load(path: str | Path | Traversable | None = None) -> dict[str, Lesson]:
    """Read and validate every lesson (InputError sentence on the first problem)."""
    if path is None:
        return dict(_load_default())
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8") if isinstance(path, str)
                          else path.read_text(encoding="utf-8"))
    return {k: _check(k, v) for k, v in data["lessons"].items()}


@functools.cache
def _load_default() -> dict[str, Lesson]:
    return load(ASSETS / "lessons.yaml")


def lesson_names() -> list[str]:
    """Lesson names in their numbered order."""
    return sorted(_load_default(), key=lambda k: _load_default()[k].number)


def get(name: str) -> Lesson:
    """The lesson called ``name`` (InputError with the list of names otherwise)."""
    lessons = _load_default()
    if name not in lessons:
        raise InputError(f"Unknown lesson {name!r}; choose one of {', '.join(lesson_names())}.")
    return lessons[name]


def run(lesson: Lesson, **overrides: Any) -> list[tuple[Variant, Result]]:
    """Simulate every variant of ``lesson`` (``overrides`` change SimParams, e.g. t_end)."""
    out = []
    for v in lesson.variants():
        params = make_params(**{**params_dict(make_params(**v.params)), **overrides})
        out.append((v, simulate(lesson.hamiltonian(v), params)))
    return out


# --- handout figures (matplotlib, imported lazily) -------------------------------------------

def _fig_populations(plt, runs, lesson):
    k = len(runs)
    fig, axes = plt.subplots(1, k, figsize=(4.2 * k, 3.6), squeeze=False, sharey=True)
    for ax, (v, res) in zip(axes[0], runs, strict=True):
        P = res.P
        show = range(P) if P <= 6 else []
        for a in show:
            line, = ax.plot(res.t, res.n[:, a] / res.N, lw=1.6, label=f"n_{a}/N")
            ax.plot(res.t, res.p[:, a], "k--", lw=1.0)
        if not show:  # a lattice: occupation of the packet's half
            x = np.asarray(res.hamiltonian.x)
            ax.plot(res.t, res.n[:, x < 0].sum(1) / res.N, lw=1.6, label="ensemble, x < 0")
            ax.plot(res.t, res.p[:, x < 0].sum(1), "k--", lw=1.0, label="|ψ|², x < 0")
        ax.set_title(v.label, fontsize=11)
        ax.set_xlabel("time t")
        ax.set_ylim(-0.02, 1.02)
    axes[0][0].set_ylabel("fraction (dashed: |ψ_a|²)")
    axes[0][0].legend(fontsize=8, loc="best")
    return fig


def _fig_tracked(plt, runs, lesson):
    v, res = runs[0]
    tr = res.extra.get("tracked_a")
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if tr is None or tr.size == 0:
        ax.text(0.5, 0.5, "no tracked systems (agents mode only)", ha="center")
        return fig
    for k in range(tr.shape[1]):
        ax.step(res.t, tr[:, k] + 0.08 * (k - tr.shape[1] / 2), where="post", lw=1.4,
                label=f"system {k + 1}")
    ax.set_yticks(range(res.P))
    ax.set_xlabel("time t")
    ax.set_ylabel("beable value a")
    ax.set_title("Tracked systems jump only by copying another", fontsize=11)
    ax.legend(fontsize=8, ncols=2)
    return fig


def _fig_deviation(plt, runs, lesson):
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for v, res in runs:
        ax.semilogy(res.t[1:], np.maximum(res.tv[1:], 1e-6), lw=1.3, label=v.label)
    N = {res.N for _, res in runs}
    if len(N) == 1:
        ax.axhline(1.0 / np.sqrt(N.pop()), color="grey", ls=":", label="1/√N")
    ax.set_xlabel("time t")
    ax.set_ylabel("deviation D = ½ Σ |n_a/N − |ψ_a|²|")
    ax.set_title(lesson.title, fontsize=11)
    ax.legend(fontsize=8)
    return fig


def _fig_order(plt, runs, lesson):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for v, res in runs:
        for ax, key in zip(axes, ("polar", "nematic"), strict=True):
            o = res.extra.get(key)
            if o is not None:
                ax.plot(res.t, np.nanmin(o, axis=1), lw=1.4, label=v.label)
    for ax, key in zip(axes, ("polar  |⟨e^{iφ}⟩_a|", "nematic  |⟨e^{2iφ}⟩_a|"), strict=True):
        ax.set_title(f"{key} (smallest class)", fontsize=10)
        ax.set_xlabel("time t")
    axes[0].set_ylabel("order")
    axes[0].legend(fontsize=8)
    return fig


def _fig_classical(plt, runs, lesson):
    from ..core.classical import mean_position, overlay

    v, res = runs[0]
    ham = res.hamiltonian
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ov = overlay(ham, res.t)
    ax.plot(res.t, ov.newton, "k-", lw=2.5, label="Newton (packet centre)")
    ax.plot(res.t, ov.liouville, color="tab:orange", lw=1.5, ls="--", label="Liouville mean")
    ax.plot(res.t, ov.exact, color="tab:blue", lw=1.5, ls=":", label="exact ⟨x⟩")
    ax.plot(res.t[::4], mean_position(ham.x, res.n)[::4], "o", ms=4, color="tab:red",
            label=f"ensemble Σ x_a n_a/N (N = {res.N:.0e})")
    ax.set_xlabel("time t")
    ax.set_ylabel("mean position")
    ax.set_title(lesson.title, fontsize=11)
    ax.legend(fontsize=8)
    return fig


_FIGS = {"populations": _fig_populations, "tracked": _fig_tracked,
         "deviation": _fig_deviation, "order": _fig_order, "classical": _fig_classical}


def write_figures(lesson: Lesson, out: str | Path, runs=None) -> list[Path]:
    """Run the lesson and write one PNG per figure into ``out``; returns the paths."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"The output path {str(out)!r} is a file, not a folder.")
    from ..core._files import check_writable_folder

    check_writable_folder(out if out.is_dir() else out.parent)  # before the runs
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = runs if runs is not None else run(lesson)
    out.mkdir(exist_ok=True)
    paths = []
    for kind in lesson.figures:
        fig = _FIGS[kind](plt, runs, lesson)
        fig.suptitle(f"Lesson {lesson.number}: {lesson.title}", fontsize=12, y=1.0)
        fig.tight_layout()
        path = out / f"{lesson.name}_{kind}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


# --- command line ------------------------------------------------------------------------------

def register(sub) -> None:
    p = sub.add_parser("lesson", help="write a lesson's handout figures as PNG files")
    p.add_argument("name", nargs="?", help="lesson name (see --list)")
    p.add_argument("--out", metavar="DIR", help="folder for the PNG files (created)")
    p.add_argument("--list", action="store_true", help="list the lessons")
    p.set_defaults(func=_cmd)


def _cmd(ns) -> int:
    if ns.list:
        for name in lesson_names():
            lesson = get(name)
            print(f"{name}: lesson {lesson.number}, {lesson.title} (preset {lesson.preset})")
        return 0
    if ns.name is None:
        raise InputError("Give a lesson name (see 'python -m engine lesson --list').")
    lesson = get(ns.name)
    if ns.out is None:
        raise InputError("Give --out DIR, the folder for the lesson's PNG files.")
    for path in write_figures(lesson, ns.out):
        print(path)
    return 0
