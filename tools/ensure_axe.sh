#!/usr/bin/env bash
# Make axe-core available for the browser tests' accessibility check
# (tests/browser/test_accessibility.py injects tools/axe/node_modules/axe-core/axe.min.js).
# Idempotent: does nothing when it is already installed. Installs npm (Debian's package) when it
# is missing, then axe-core from the npm registry at the version pinned in tools/axe/package-lock.json.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
AXE_DIR="$HERE/axe"
AXE_JS="$AXE_DIR/node_modules/axe-core/axe.min.js"
PINNED="$(sed -n 's/.*"axe-core": "\([0-9.]*\)".*/\1/p' "$AXE_DIR/package.json")"

if [ -f "$AXE_JS" ] && grep -q "\"version\": \"$PINNED\"" "$AXE_DIR/node_modules/axe-core/package.json" 2>/dev/null; then
    echo "axe-core $PINNED already installed: $AXE_JS"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "npm is missing and this user cannot install packages; install Debian's 'npm' package" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# `npm ci` installs exactly what the lock file says, and nothing is run at install time.
(cd "$AXE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "axe-core installed: $AXE_JS"
