#!/usr/bin/env bash
# Runs NetLab's benchmarks against PyTorch and prints their `name=value` lines.
#   bash bench/run.sh              every benchmark
#   bash bench/run.sh train-step   one of them (names: the bench/*.ts files)
# The benchmarks run from the compiled JavaScript in dist/ (`npm run bench`
# compiles it first); NETLAB_DIST names another output folder. PyTorch comes
# from /usr/bin/python3 (NETLAB_BENCH_PYTHON names another interpreter); when
# that interpreter cannot import torch, Debian's python3-torch is installed.
# NETLAB_BENCH_QUICK=1 shrinks the benchmarks that know it (train-epoch,
# attack, models, mae) to a smoke test of their code: their figures then mean
# nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bench: %s\n' "$*" >&2; }
. scripts/apt.sh

dist=${NETLAB_DIST:-dist}
python=${NETLAB_BENCH_PYTHON:-/usr/bin/python3}
export NETLAB_BENCH_PYTHON=$python

all=()
for file in bench/*.ts; do
  name=$(basename "$file" .ts)
  [ "$name" = common ] || all+=("$name")
done

if [ $# -gt 1 ]; then
  say "usage: bash bench/run.sh [NAME], NAME one of: ${all[*]}"
  exit 2
elif [ $# -eq 1 ]; then
  if [ ! -f "bench/$1.ts" ] || [ "$1" = common ]; then
    say "no benchmark named '$1'; the benchmarks are: ${all[*]}"
    exit 2
  fi
  selected=("$1")
else
  selected=("${all[@]}")
fi

if ! "$python" -c 'import torch' 2>/dev/null; then
  if [ "$python" != /usr/bin/python3 ]; then
    say "$python cannot import torch; install PyTorch for it, or leave NETLAB_BENCH_PYTHON unset to use Debian's python3-torch"
    exit 1
  fi
  say "/usr/bin/python3 cannot import torch: installing Debian's python3-torch with apt-get"
  apt_install python3-torch
  "$python" -c 'import torch' || { say "python3-torch is installed but /usr/bin/python3 still cannot import torch"; exit 1; }
  say "installed python3-torch $("$python" -c 'import torch; print(torch.__version__)')"
fi

# The models benchmark compares with torchvision's networks.
if [[ " ${selected[*]} " == *" models "* ]] && ! "$python" -c 'import torchvision' 2>/dev/null; then
  if [ "$python" != /usr/bin/python3 ]; then
    say "$python cannot import torchvision, which the models benchmark needs"
    exit 1
  fi
  say "/usr/bin/python3 cannot import torchvision: installing Debian's python3-torchvision with apt-get"
  apt_install python3-torchvision
fi

for name in "${selected[@]}"; do
  script="$dist/bench/$name.js"
  if [ ! -f "$script" ]; then
    say "$script is missing: compile first (npm run bench does, or npx tsc -p . --outDir $dist)"
    exit 1
  fi
  echo "# $name"
  node "$script"
done
