"""docs/render_composite.py (the figures of docs/composite.md) runs in its quick mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_render_writes_small_figures_and_tables(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "docs" / "render_composite.py"), "--quick",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for name in ("composite_chsh.png", "composite_signalling.png", "composite_agents.png"):
        png = tmp_path / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size < 150_000
    assert "| 1e+03 | " in out.stdout and out.stdout.count("2.0000 ± 0.0000 |\n") == 2
    assert out.stdout.count("\n| 1 | 0 | ") == 2  # spectators 1, r = 0, two values of N
    # part three: agents locked, agents dynamic, admixture; r = -1/2 and 0 each
    assert out.stdout.count("\n| agents, phases locked | ") == 2
    assert out.stdout.count("\n| population, admixture 0.05 | 0 | 1e+03 | 2 | ") == 1
