"""Render the figures and tables of docs/studies.md from the two example studies.

    .venv/bin/python -m engine sweep assets/studies/drift_vs_N.yaml --out results/drift_vs_N
    .venv/bin/python -m engine sweep assets/studies/r_breaks_qm.yaml --out results/r_breaks_qm
    .venv/bin/python docs/render_studies.py

The figures are the Studies page's own HoloViews plots (app/studies.py), saved as Bokeh
HTML and photographed with headless Chromium (Playwright driving /usr/bin/chromium).
The tables are printed as Markdown on standard output.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import holoviews as hv
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from real_ensemble_lab.app.studies import _fmt, absorption_plot, drift_plot, heatmap_plot  # noqa: E402
from real_ensemble_lab.engine.studies.analysis import (  # noqa: E402
    absorption_probability,
    compare_with_bell,
    drift_fit,
    load_series,
    load_summary,
)

DOCS = ROOT / "docs"
CHROMIUM = "/usr/bin/chromium"


def shoot(obj, name: str) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as d:
        html = Path(d) / f"{name}.html"
        hv.save(obj.opts(toolbar=None), html, backend="bokeh", resources="inline")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.goto(html.as_uri())
            page.wait_for_selector("canvas", timeout=20_000)
            page.wait_for_timeout(800)
            box = page.locator(".bk-Figure, .bk-GridPlot, .bk-Column, .bk-Row").first
            box.screenshot(path=str(DOCS / f"{name}.png"))
            browser.close()
    print(f"wrote docs/{name}.png ({(DOCS / f'{name}.png').stat().st_size // 1024} KB)",
          file=sys.stderr)


def table(df: pd.DataFrame, cols: list[str], digits: int = 3) -> str:
    def cell(v):
        if isinstance(v, float):
            return "–" if pd.isna(v) else (_fmt(v) if float(v).is_integer() else
                                           f"{v:.{digits}f}")
        return _fmt(v)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for _, r in df.iterrows()]
    return "\n".join(lines)


def main() -> int:
    drift = ROOT / "results" / "drift_vs_N"
    rstudy = ROOT / "results" / "r_breaks_qm"
    S, ser = load_summary(drift), load_series(drift, ["key", "t", "tv_sqrtN", "mode", "N",
                                                       "seed"])
    shoot(drift_plot(ser, width=900, height=440), "studies_drift")
    shoot(absorption_plot(S, width=640, height=320), "studies_absorption")
    fit = drift_fit(ser, by=["mode", "N"], t_min=2.0)
    fit["alpha ± err"] = [f"{a:.2f} ± {e:.2f}" for a, e in zip(fit["alpha"], fit["alpha_err"],
                                                                 strict=True)]
    print("### drift fit (t >= 2)\n")
    print(table(fit, ["mode", "N", "runs", "alpha ± err", "A"]))
    ab = absorption_probability(S, by=["mode", "N"])
    ab["95 % interval"] = [f"[{lo:.2f}, {hi:.2f}]" for lo, hi in zip(ab["lo"], ab["hi"],
                                                                     strict=True)]
    print("\n### absorption\n")
    print(table(ab, ["mode", "N", "runs", "absorbed", "prob", "95 % interval",
                     "median_time"], 2))
    cmp = compare_with_bell(S, metric="max_tv_sqrtN", by=["N"])
    print("\n### against Bell (max over t of tv·√N)\n")
    print(table(cmp, ["N", "mean", "sem", "bell_mean", "bell_sem", "ratio"], 2))

    R = load_summary(rstudy)
    shoot(heatmap_plot(R, "N", "r", "max_tv", width=560, height=420), "studies_r_heatmap")
    piv = R.groupby(["r", "N"])["max_tv"].mean().unstack("N")
    piv = piv.reset_index()
    piv.columns = [str(c) for c in piv.columns]
    print("\n### r study: mean over seeds of max_t tv\n")
    print(table(piv, list(piv.columns), 3))
    abr = absorption_probability(R, by=["r"])
    abr["95 % interval"] = [f"[{lo:.2f}, {hi:.2f}]" for lo, hi in zip(abr["lo"], abr["hi"],
                                                                      strict=True)]
    print("\n### r study: absorption (all N)\n")
    print(table(abr, ["r", "runs", "absorbed", "prob", "95 % interval", "median_time"], 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
