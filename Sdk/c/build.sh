#!/usr/bin/env bash
# Builds the C SDK's sample (sample/*.c -> sample/*.wasm). The .wasm is committed because the
# Node tests run it; rebuild and commit it after editing flotilla.h or a sample.
# Debian: apt-get install -y clang lld wasi-libc libclang-rt-dev-wasm32
set -euo pipefail
cd "$(dirname "$0")"

for tool in clang wasm-ld; do
    command -v "$tool" >/dev/null || { echo "build.sh: '$tool' is not installed (see the apt-get line at the top)" >&2; exit 1; }
done
[ -f /usr/lib/wasm32-wasi/libc.a ] || { echo "build.sh: wasi-libc is not installed under /usr" >&2; exit 1; }

for src in sample/*.c; do
    clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Werror -I . -Wl,--strip-all -o "${src%.c}.wasm" "$src"
done
ls -l sample/*.wasm
