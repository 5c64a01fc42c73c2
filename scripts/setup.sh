#!/usr/bin/env bash
# Installs what NetLab needs and builds it; quick when everything is in place.
#   1. Debian/Ubuntu packages: libtorch-dev, libgloo-dev (the headers of Gloo,
#      which c10d's process group includes), and OpenBLAS (without it
#      libtorch's matrix products fall back to reference BLAS, about 30 times
#      slower).
#   2. npm dependencies.
#   3. The native addon (node-gyp), when its sources changed.
#   4. The TypeScript, when any source changed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'netlab setup: %s\n' "$*" >&2; }
. scripts/apt.sh

# 1. System packages.
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in libtorch-dev libgloo-dev libopenblas0-pthread; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  # LIBTORCH or a pip torch make libtorch-dev unnecessary.
  if [ -n "${LIBTORCH:-}" ] || python3 -c 'import os, torch; assert os.path.isdir(os.path.join(os.path.dirname(torch.__file__), "include"))' 2>/dev/null; then
    missing=("${missing[@]/libtorch-dev}")
    missing=("${missing[@]/libgloo-dev}")
  fi
  missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} with apt-get"
    apt_install "${missing[@]}"
  fi
fi
node native/find-libtorch.mjs check >/dev/null

# 2. npm dependencies, when package-lock.json changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 3. The addon.
addon=native/build/Release/netlab.node
if [ ! -f "$addon" ] || [ -n "$(find native/src native/shim native/binding.gyp native/find-libtorch.mjs -newer "$addon" -print -quit)" ]; then
  say "building the native addon against libtorch ($(node native/find-libtorch.mjs check | sed 's/^netlab: using libtorch from //'))"
  # Build against the running Node's own headers when it ships them: nothing to download.
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  headers=()
  [ -f "$nodedir/include/node/node_api.h" ] && headers=(--nodedir="$nodedir")
  npx node-gyp rebuild --directory native -j "$(nproc)" --loglevel=error "${headers[@]}" >/dev/null
fi

# 4. TypeScript.
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find src test bench tsconfig.json package.json -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  say "compiling TypeScript"
  rm -rf dist
  npx tsc -p .
  touch "$stamp"
fi
