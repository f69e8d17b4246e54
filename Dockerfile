# One image for every process of the aggregator: the web app (default command), the sync worker
# (`python manage.py run_sync`) and one-shot tasks such as `python manage.py migrate`.
# The base image is a build argument so that a private mirror can stand in for Docker Hub.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# --- build: the dependencies, in a virtualenv that the runtime stage copies as a whole ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# `python -m venv` rather than any image-specific layout, so Debian-packaged Pythons work too.
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# --no-deps: the image holds exactly the pinned set; `pip check` fails the build if a pin is missing.
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps -r /tmp/requirements.txt \
    && /opt/venv/bin/pip check

# --- runtime ----------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000
RUN groupadd --system --gid 10001 aggregator \
    && useradd --system --uid 10001 --gid aggregator --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin aggregator
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . .
# Static files (admin, Swagger UI) are collected now, hashed and compressed, and whitenoise serves
# them. Settings refuse to load without a SECRET_KEY; this one exists only during this step.
RUN SECRET_KEY=collectstatic-only-not-a-secret CURRENCY=EUR python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q .
# The code and static files stay owned by root: the process can read them, not change them.
# Numeric, so that platforms enforcing "run as non-root" (Kubernetes runAsNonRoot) can verify it.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "scripts/healthcheck.py"]
# Exec form: gunicorn is PID 1 and receives SIGTERM itself (graceful shutdown). Its control socket
# goes to /tmp: the default is under $HOME, which this user does not have (and the root file
# system may be read-only).
CMD ["gunicorn", "--config", "gunicorn.conf.py", "--control-socket", "/tmp/gunicorn.ctl", "aggregator.wsgi"]
