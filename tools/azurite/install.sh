#!/usr/bin/env bash
# Install Azurite, Microsoft's Azure Storage emulator, into tools/azurite/node_modules (the version
# pinned in package.json and package-lock.json). The recording store's tests start
# node_modules/.bin/azurite-blob. Safe to run again; does nothing when the locked version is
# already installed.
set -euo pipefail
cd "$(dirname "$0")"

installed=node_modules/.package-lock.json  # written by npm at the end of every install
if [ -x node_modules/.bin/azurite-blob ] && [ -f "$installed" ] && [ ! package-lock.json -nt "$installed" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "warning: npm not found, Azurite not installed (the azure-blob recording store's tests" \
    "need it: install Node.js 20+ and npm, then make install)" >&2
  exit 0
fi
echo "installing Azurite (npm ci in tools/azurite)" >&2
npm ci --no-audit --no-fund --loglevel=error >&2
