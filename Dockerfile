# Real Ensemble Lab dashboard: `real-ensemble-lab serve` (panel serve) on 0.0.0.0:5006.
#   docker build -t real-ensemble-lab .
#   docker run --rm -p 5006:5006 -e BOKEH_ALLOW_WS_ORIGIN=localhost:5006 real-ensemble-lab
# With a Dask scheduler and worker (the same image) and a data volume: docker compose up
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NUMBA_CACHE_DIR=/home/lab/.cache/numba \
    BOKEH_ALLOW_WS_ORIGIN=localhost:5006,127.0.0.1:5006 \
    REAL_ENSEMBLE_LAB_DATA=/data

# The lab's saved runs live in /data, a volume (compose.yaml mounts a named one there).
RUN groupadd --gid 10001 lab && useradd --uid 10001 --gid 10001 --create-home lab \
    && mkdir /data && chown 10001:10001 /data
WORKDIR /opt/real-ensemble-lab

# Dependencies: the tested versions, from the runtime lock (`make lock` writes it: the
# [app] and [studies] extras), in a layer of their own. The project goes on top as a regular
# install (not editable): the package real_ensemble_lab with its assets as package data.
COPY requirements/lock-runtime.txt ./requirements/
RUN pip install --no-cache-dir -r requirements/lock-runtime.txt
COPY pyproject.toml README.md ./
COPY real_ensemble_lab ./real_ensemble_lab
COPY engine ./engine
COPY app ./app
COPY assets ./assets
RUN pip install --no-cache-dir --no-deps .

# Run from the home folder, away from the sources (only the installed package is imported).
WORKDIR /home/lab
USER 10001:10001
# Compile the numba kernels once at build time, so the first press of play is instant.
RUN python -c "from real_ensemble_lab import engine; h = engine.build_preset('two_level'); \
    [engine.simulate(h, N=1000, t_end=0.2, **kw) for kw in ({}, {'mode': 'bell'}, \
     {'mode': 'agents'}, {'mode': 'agents', 'f': 1.0}, {'mode': 'agents', 'phases': 'locked'})]"

VOLUME /data
EXPOSE 5006
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5006/liveness', timeout=4)"]

# `serve` runs panel serve on the installed dashboard with --liveness, --index app and the
# plugin real_ensemble_lab.app.routes (/runners counts live simulation threads); other options
# go to panel serve. Websocket origins: BOKEH_ALLOW_WS_ORIGIN (comma-separated host:port
# list), the environment form of --allow-websocket-origin.
CMD ["real-ensemble-lab", "serve", "--address", "0.0.0.0", "--port", "5006", "--check-unused-sessions", "5000", "--unused-session-lifetime", "10000"]
