#!/usr/bin/env node
// Finds libtorch for the addon build, in the order the design fixes:
//   1. $LIBTORCH (a folder with include/ and lib/, such as pytorch.org's zip),
//   2. the torch package of `python3` (pip installs ship include/ and lib/),
//   3. the system (Debian/Ubuntu libtorch-dev).
// Usage: node native/find-libtorch.mjs [check|cflags|ldflags|libs|json]
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

function layout(root, source) {
  const lib = join(root, 'lib');
  const include = join(root, 'include');
  if (!existsSync(join(lib, 'libtorch.so')) || !existsSync(join(include, 'ATen', 'ATen.h'))) return null;
  return { source, includes: [include, join(include, 'torch', 'csrc', 'api', 'include')], lib };
}

function fromEnv() {
  const root = process.env.LIBTORCH;
  if (!root) return null;
  const found = layout(root, `LIBTORCH=${root}`);
  if (!found) fail(`LIBTORCH=${root} does not contain include/ATen/ATen.h and lib/libtorch.so`);
  return found;
}

function fromPython() {
  try {
    const dir = execFileSync('python3', ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return layout(dir, `the torch package of python3 (${dir})`);
  } catch {
    return null;
  }
}

function fromSystem() {
  const candidates = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  const lib = candidates.find((dir) => existsSync(join(dir, 'libtorch.so')));
  const include = ['/usr/include', '/usr/local/include'].find((dir) => existsSync(join(dir, 'ATen', 'ATen.h')));
  if (!lib || !include) return null;
  return { source: 'the system (libtorch-dev)', includes: [include, join(include, 'torch', 'csrc', 'api', 'include')], lib };
}

function fail(message) {
  process.stderr.write(`netlab: ${message}\n`);
  process.exit(1);
}

// The C++ ABI of std::string in libtorch's exported symbols decides
// _GLIBCXX_USE_CXX11_ABI; reading the symbols works for every source.
function cxx11Abi(lib) {
  try {
    const symbols = execFileSync('nm', ['-D', '--defined-only', join(lib, 'libc10.so')], {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
    });
    return symbols.includes('__cxx11') ? 1 : 0;
  } catch {
    return 1;
  }
}

const found = fromEnv() ?? fromPython() ?? fromSystem();
if (!found) {
  fail(
    'libtorch was not found. Install it with `sudo apt-get install libtorch-dev libopenblas0-pthread` ' +
      '(Debian/Ubuntu; `npm run setup` does this for you), or set LIBTORCH to an unpacked libtorch folder ' +
      'from pytorch.org (it holds include/ and lib/), or `pip install torch` for python3.',
  );
}
const abi = cxx11Abi(found.lib);
const mode = process.argv[2] ?? 'json';
if (mode === 'check') console.log(`netlab: using libtorch from ${found.source}`);
else if (mode === 'cflags') {
  // /usr/include is already searched; naming it with -isystem breaks #include_next.
  console.log([...found.includes.filter((dir) => dir !== '/usr/include').map((dir) => `-isystem ${dir}`), `-D_GLIBCXX_USE_CXX11_ABI=${abi}`].join(' '));
}
else if (mode === 'ldflags') console.log(`-L${found.lib} -Wl,-rpath,${found.lib}`);
else if (mode === 'libs') console.log('-ltorch -ltorch_cpu -lc10');
else console.log(JSON.stringify({ ...found, abi }));
