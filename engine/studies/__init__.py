"""Studies: parameter sweeps on Dask and their Parquet datasets (the ``studies`` extra).

- :mod:`.config`: the sweep config file, checked and expanded into runs before any work;
- :mod:`.keys`: a run's stable key (its file name and resume key);
- :mod:`.tables`: a run's series and summary tables, and the dataset's folder layout;
- :mod:`.cluster`: Dask clients (a LocalCluster, or a scheduler within a deadline);
- :mod:`.runner`: :func:`~.runner.run_sweep`, batching runs into Dask tasks;
- :mod:`.command`: ``python -m engine sweep``;
- :mod:`.analysis`: reading a dataset back (pandas) for drift, absorption, Bell;
- :mod:`.datadir`: the one data folder the dashboard writes to.

Modules import dask, pyarrow and pandas where they use them (``analysis`` at the top), so
the command line lists ``sweep`` without the extra and says which extra a run needs.
"""
