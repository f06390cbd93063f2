#!/usr/bin/env bash
# Install commons-helper for this user and start the helper service.
#   ./install.sh             install (or update) and run `commons-helper serve`
#   ./install.sh --no-run    install only
# The program goes into its own virtualenv (~/.local/share/commons-helper/venv, or
# $COMMONS_HELPER_VENV) and the command is linked into ~/.local/bin.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "install.sh: Python 3.11 or newer is needed (found $("$PY" --version 2>&1))" >&2; exit 2; }
VENV=${COMMONS_HELPER_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/commons-helper/venv}
BIN=${COMMONS_HELPER_BIN:-$HOME/.local/bin}
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q .
mkdir -p "$BIN"
ln -sf "$VENV/bin/commons-helper" "$BIN/commons-helper"
echo "install.sh: installed $("$BIN/commons-helper" --version) as $BIN/commons-helper"
case ":$PATH:" in *":$BIN:"*) ;; *) echo "install.sh: add $BIN to your PATH to run commons-helper";; esac
if [ "${1:-}" != "--no-run" ]; then
  echo "install.sh: starting the helper (Ctrl-C stops it; next time just run: commons-helper serve)"
  exec "$BIN/commons-helper" serve
fi
