"""Run exports that carry their own metadata, read back and rerun from it alone.

A CSV export has comment lines before its header, the last of them ``# meta: {json}``; a
Parquet export keeps the same JSON under the key-value metadata key :data:`META_KEY`. The
metadata is the command line's sidecar (:func:`engine.core.simulate.run_meta`: parameters, seed,
preset, H, psi0, version), so :func:`rerun` rebuilds the Hamiltonian and the parameters
from the file alone and ``simulate(*rerun(meta))`` repeats the run.

No Panel here: the dashboard calls these with its history columns
(``app.runner.History.columns()``) and :func:`export_meta`.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..core._files import read_bytes
from ..core.errors import InputError
from ..core.hamiltonian import Hamiltonian
from ..core.params import SimParams, make_params
from ..core.presets import build, preset_names
from ..core.simulate import run_meta, write_csv

#: Parquet key-value metadata key holding the JSON metadata.
META_KEY = "real_ensemble_lab.meta"
#: The CSV comment line holding the JSON metadata.
CSV_META_PREFIX = "# meta: "
#: Largest export file read back (the dashboard's history is capped far below this).
READ_MAX_BYTES = 256 * 2**20
_INT = re.compile(r"-?\d+\Z")


def export_meta(ham: Hamiltonian, params: SimParams | dict[str, Any],
                preset: str | None = None, preset_values: dict[str, Any] | None = None,
                **notes: Any) -> dict[str, Any]:
    """The metadata of an export: enough to rerun it (:func:`rerun`).

    Parameters
    ----------
    ham : Hamiltonian
        The Hamiltonian the run was started with, psi0 *before* the admixture (the runner's
        ``ham``, not its stepper's); a hand-edited matrix is stored as it is.
    params : SimParams or dict
        The run's parameters, seed included.
    preset, preset_values : optional
        The preset the matrix came from (default: the ones ``ham`` was built with).
    **notes
        Further JSON-ready entries, e.g. ``exported_at_t=12.3``.

    Returns
    -------
    dict
        :func:`engine.core.simulate.run_meta` plus ``matrix_edited``: whether H or psi0 differ
        from the preset's own (None without a preset).
    """
    meta = run_meta(ham, params, preset, preset_values)
    meta["matrix_edited"] = _edited(ham, meta["preset"], meta["preset_values"])
    meta.update(notes)
    return meta


def _edited(ham: Hamiltonian, preset: str | None, values: dict[str, Any] | None) -> bool | None:
    if not preset or preset not in preset_names():
        return None
    try:
        ref = build(preset, **(values or {}))
    except InputError:
        return None
    return not (ref.P == ham.P and np.array_equal(ref.H, ham.H)
                and np.array_equal(ref.psi0, ham.psi0))


def _json(meta: dict[str, Any]) -> str:
    def plain(x: Any) -> Any:
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
        raise TypeError(f"{type(x).__name__} is not JSON serialisable")

    # one line, floats as repr: JSON round-trips every float exactly
    return json.dumps(meta, default=plain, ensure_ascii=False, separators=(",", ":"))


def _check_columns(columns: dict[str, Any]) -> dict[str, np.ndarray]:
    if not columns:
        raise InputError("An export needs at least one column.")
    cols = {str(k): np.asarray(v) for k, v in columns.items()}
    lengths = {k: v.shape for k, v in cols.items()}
    first = next(iter(lengths.values()))
    for k, shape in lengths.items():
        if len(shape) != 1 or shape != first:
            raise InputError(f"Column {k!r} has shape {shape}, but every column must be 1-d "
                             f"with the length of the first, {first}.")
        if "," in k or "\n" in k:
            raise InputError(f"Column name {k!r} may not contain a comma or a line break.")
    return cols


def export_csv(columns: dict[str, Any], meta: dict[str, Any]) -> bytes:
    """CSV bytes: ``# ...`` comment lines (the last ``# meta: {json}``), the header, the rows.

    Integers stay integers and floats keep full precision (as the command line writes them).
    """
    cols = _check_columns(columns)
    out = io.StringIO()
    out.write(f"# Real Ensemble Lab run export, version {meta.get('version', '?')}.\n"
              f"# The next line is the run's metadata as JSON; engine.tools.export.rerun rebuilds "
              f"the run from it.\n")
    out.write(CSV_META_PREFIX + _json(meta) + "\n")
    write_csv(cols, out)
    return out.getvalue().encode("utf-8")


def export_parquet(columns: dict[str, Any], meta: dict[str, Any]) -> bytes:
    """Parquet bytes with the metadata JSON under the key-value key :data:`META_KEY`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(_check_columns(columns))
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           META_KEY: _json(meta)})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def read_export(source: str | Path | bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Columns and metadata of an export (CSV or Parquet, told apart by content).

    Parameters
    ----------
    source : path or bytes
        A file written from :func:`export_csv` or :func:`export_parquet`, or their bytes.

    Raises
    ------
    InputError
        One sentence: unreadable, too large, no metadata, a malformed row.
    """
    what = "export"
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
    else:
        path = Path(source)
        what = f"export {str(path)!r}"
        data = read_bytes(path, "export", READ_MAX_BYTES)
    if data[:4] == b"PAR1":
        return _read_parquet(data, what)
    return _read_csv(data, what)


def _parse_meta(text: str, what: str) -> dict[str, Any]:
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"The metadata of the {what} is not valid JSON ({err.msg}).") \
            from None
    if not isinstance(meta, dict):
        raise InputError(f"The metadata of the {what} is not a JSON object.")
    return meta


def _read_parquet(data: bytes, what: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as err:
        raise InputError(f"The {what} is not a readable Parquet file ({err}).") from None
    raw = (table.schema.metadata or {}).get(META_KEY.encode())
    if raw is None:
        raise InputError(f"The {what} has no {META_KEY!r} metadata: it was not written "
                         f"by engine.tools.export.")
    cols = {name: table.column(name).to_numpy() for name in table.column_names}
    return cols, _parse_meta(raw.decode("utf-8"), what)


def _read_csv(data: bytes, what: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise InputError(f"The {what} is neither Parquet nor UTF-8 text (byte {err.start}).") \
            from None
    k, meta = 0, None
    while k < len(lines) and lines[k].startswith("#"):
        if lines[k].startswith(CSV_META_PREFIX):
            meta = _parse_meta(lines[k][len(CSV_META_PREFIX):], what)
        k += 1
    if meta is None:
        raise InputError(f"The {what} has no '{CSV_META_PREFIX.strip()}' line: it was not "
                         f"written by engine.tools.export.")
    if k >= len(lines):
        raise InputError(f"The {what} has metadata but no header line.")
    names = lines[k].split(",")
    rows = [line.split(",") for line in lines[k + 1:] if line]
    for i, row in enumerate(rows):
        if len(row) != len(names):
            raise InputError(f"Row {i + 1} of the {what} has {len(row)} fields, but the "
                             f"header has {len(names)}.")
    cells = np.array(rows, dtype=str).reshape(len(rows), len(names))
    cols: dict[str, np.ndarray] = {}
    for j, name in enumerate(names):
        col = cells[:, j]
        try:
            cols[name] = (col.astype(np.int64) if all(_INT.match(s) for s in col)
                          else col.astype(float))
        except ValueError:
            raise InputError(f"Column {name!r} of the {what} holds a value that is not a "
                             f"number.") from None
    return cols, meta


def rerun(meta: dict[str, Any]) -> tuple[Hamiltonian, SimParams]:
    """The Hamiltonian and parameters of an exported run, from its metadata alone.

    H and psi0 always come from the stored matrix (a hand-edited one included); a named
    preset of the same size only lends its extras (lattice positions, the parts of a
    composite system). ``simulate(*rerun(meta))`` repeats the run with the same seed; the
    sidecar ``.meta.json`` of the command line works too.

    Raises
    ------
    InputError
        Missing or invalid entries, or a protocol run (replay those with
        ``python -m engine run --protocol``).
    """
    if not isinstance(meta, dict):
        raise InputError("The metadata must be a JSON object.")
    for key in ("hamiltonian", "params"):
        if not isinstance(meta.get(key), dict):
            raise InputError(f"The metadata has no {key!r} object, so the run cannot be "
                             f"rebuilt.")
    if meta.get("protocol"):
        raise InputError("This run followed a protocol H(t); rerun it with python -m engine "
                         "run --protocol, which replays the segments.")
    params = make_params(**meta["params"])
    if "seed" in meta and meta["seed"] != params.seed:
        raise InputError(f"The metadata's seed {meta['seed']!r} differs from its "
                         f"params.seed {params.seed!r}.")
    preset = meta.get("preset")
    ham = Hamiltonian.from_dict(meta["hamiltonian"], name=preset or "custom")
    if preset in preset_names():
        try:
            ref = build(preset, **(meta.get("preset_values") or {}))
        except InputError:
            ref = None
        if ref is not None and ref.P == ham.P:
            ham = replace(ref, H=ham.H, psi0=ham.psi0, labels=ham.labels)
    return ham, params


def export_name(meta: dict[str, Any], suffix: str) -> str:
    """A file name for an export: ``real-ensemble_<preset>_<mode>_N<N>_seed<seed>.<suffix>``."""
    p = meta.get("params", {})
    stem = "_".join(str(x) for x in ("real-ensemble", meta.get("preset") or "custom",
                                     p.get("mode", "run"), f"N{p.get('N', '')}",
                                     f"seed{p.get('seed', '')}"))
    return re.sub(r"[^A-Za-z0-9_.+-]", "-", stem) + "." + suffix.lstrip(".")
