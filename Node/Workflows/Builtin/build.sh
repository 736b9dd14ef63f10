#!/usr/bin/env bash
# Rebuilds the built-in workflow modules from source. The .wasm files are committed (and
# embedded in Node.dll), so running Flotilla needs no toolchain; run this after editing a source.
# Debian: apt-get install -y clang lld wasi-libc libclang-rt-dev-wasm32 wabt
set -euo pipefail
cd "$(dirname "$0")"

for tool in clang wasm-ld wat2wasm; do
    command -v "$tool" >/dev/null || { echo "build.sh: '$tool' is not installed (see the apt-get line at the top)" >&2; exit 1; }
done
[ -f /usr/lib/wasm32-wasi/crt1-command.o ] || [ -f /usr/lib/wasm32-wasi/libc.a ] || {
    echo "build.sh: wasi-libc is not installed under /usr (apt-get install wasi-libc libclang-rt-dev-wasm32)" >&2; exit 1; }

for src in *.c; do
    # --strip-all drops the name and debug sections (158 KB -> 33 KB for echo).
    clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all -o "${src%.c}.wasm" "$src"
done
for src in *.wat; do
    wat2wasm "$src" -o "${src%.wat}.wasm"
done
ls -l ./*.wasm
