#!/usr/bin/env bash
# tierflow developer entry point: sets itself up on first use (a virtual environment in .venv).
#
#   ./dev.sh run    start the platform on SQLite with demo data  (http://127.0.0.1:8000/docs)
#   ./dev.sh test   run the test suite (PostgreSQL tests run when TIERFLOW_TEST_POSTGRES_URL is set)
#   ./dev.sh lint   ruff, mypy and the layer contracts
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

setup() {
  local extras=$1
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "tierflow needs Python 3.11 or newer"'
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$extras"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    if [ "$extras" = "dev" ]; then
      "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
    else
      "$VENV/bin/python" -m pip install --quiet -e .
    fi
    touch "$stamp"
  fi
}

case "${1:-}" in
  run)
    shift
    setup runtime
    export TIERFLOW_DATABASE_URL=${TIERFLOW_DATABASE_URL:-sqlite:///var/tierflow.db}
    exec "$VENV/bin/tierflow" serve --demo "$@"
    ;;
  test)
    shift
    setup dev
    exec "$VENV/bin/python" -m pytest -n 2 "$@"
    ;;
  lint)
    setup dev
    "$VENV/bin/ruff" check src tests benchmarks
    "$VENV/bin/mypy"
    "$VENV/bin/lint-imports"
    ;;
  *)
    echo "usage: ./dev.sh run | test [pytest args] | lint" >&2
    exit 2
    ;;
esac
