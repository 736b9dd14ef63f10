#!/usr/bin/env bash
# Builds the Rust SDK and its sample with Debian's rustc alone (no cargo, no registry):
#   sample/lucky.wasm       the sample without its HTTP part (imports no flotilla.call)
#   sample/lucky_http.wasm  the sample with it (--cfg feature="http")
# and runs the SDK's unit tests natively. The .wasm files are committed because the tests run
# them; rebuild and commit them after editing src/ or the sample.
# Debian: apt-get install -y rustc libstd-rust-dev-wasm32
# /usr/bin/rustc by path: a rustup toolchain earlier on PATH may lack the wasm32-wasi target.
set -euo pipefail
cd "$(dirname "$0")"

rustc=/usr/bin/rustc
[ -x "$rustc" ] || { echo "build.sh: $rustc is not installed (see the apt-get line at the top)" >&2; exit 1; }
[ -d /usr/lib/rustlib/wasm32-wasi ] || { echo "build.sh: the wasm32-wasi std is not installed (libstd-rust-dev-wasm32)" >&2; exit 1; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
common=(--edition 2021 -D warnings)
wasm=(--target wasm32-wasi -C opt-level=s)

"$rustc" "${common[@]}" --test src/lib.rs -o "$out/sdk-tests"
"$out/sdk-tests" -q

"$rustc" "${common[@]}" "${wasm[@]}" --crate-type rlib --crate-name flotilla -o "$out/libflotilla.rlib" src/lib.rs
link=(--crate-type bin --crate-name lucky -C lto -C strip=symbols --extern "flotilla=$out/libflotilla.rlib")
"$rustc" "${common[@]}" "${wasm[@]}" "${link[@]}" -o sample/lucky.wasm sample/src/main.rs
"$rustc" "${common[@]}" "${wasm[@]}" "${link[@]}" --cfg 'feature="http"' -o sample/lucky_http.wasm sample/src/main.rs
ls -l sample/*.wasm
