#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: uv, the locked Python environment, and
# (with --browser) Debian's Chromium and CJK fonts for the real-browser tests and the chart
# pictures, LibreOffice (Writer, no GUI) for the briefing's PDF and poppler-utils for its
# PNG previews, LibreOffice Calc (no GUI) to make the real .xls files the ledger tests read,
# and nginx (with its auth_request module) for the login-gate proxy test, which runs its own
# nginx in a temp dir and never uses the system service.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -m uv --version >/dev/null 2>&1; then
    echo "setup: installing uv" >&2
    python3 -m pip install --quiet uv
fi
# Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE set (as on these machines) every new
# Python process (each command, dashboard, query process and test subprocess) otherwise
# compiled some 350 modules from source, about a second each time. uv compiles the installed
# packages (25 s once, then only what changed); compileall the project's own code (2 s).
UV_PYTHON_DOWNLOADS=never python3 -m uv sync --frozen --quiet --compile-bytecode
UV_PYTHON_DOWNLOADS=never python3 -m uv run --frozen python -m compileall -q -j 0 \
    app.py pages xuncha tests scripts >/dev/null

if [[ "${1:-}" == "--browser" ]]; then
    need=()
    [[ -x /usr/bin/chromium ]] || need+=(chromium)
    dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
    command -v soffice >/dev/null 2>&1 || need+=(libreoffice-writer-nogui)
    dpkg -s libreoffice-calc-nogui >/dev/null 2>&1 || need+=(libreoffice-calc-nogui)
    command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
    [[ -x /usr/sbin/nginx ]] || need+=(nginx)
    if (( ${#need[@]} )); then
        echo "setup: installing ${need[*]} (Debian packages)" >&2
        SUDO=""
        [[ $(id -u) -eq 0 ]] || SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
            "${need[@]}" >/dev/null
    fi
fi
