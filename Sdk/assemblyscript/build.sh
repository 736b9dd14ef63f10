#!/usr/bin/env bash
# Builds the AssemblyScript SDK's sample with the pinned compiler (package-lock.json):
#   sample/lucky.wasm       the sample without its HTTP part (imports no flotilla.call)
#   sample/lucky_http.wasm  the sample with it (--use HTTP=1)
# and checks the SDK's JSON and HTTP shapes under node's WASI. The .wasm files are committed
# because the tests run them; rebuild and commit them after editing assembly/ or the sample.
# Needs node and npm (the registry for `npm ci`).
set -euo pipefail
cd "$(dirname "$0")"

command -v npm >/dev/null || { echo "build.sh: npm is not installed" >&2; exit 1; }
# Exactly the locked versions; skipped when they are already installed.
if ! cmp -s package-lock.json node_modules/.installed-lock.json 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.installed-lock.json
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
npx --no-install asc test/json.ts --config asconfig.json -o "$out/json-test.wasm"
node --no-warnings test/run.mjs "$out/json-test.wasm"

npx --no-install asc sample/lucky.ts --config asconfig.json -o sample/lucky.wasm
npx --no-install asc sample/lucky.ts --config asconfig.json --use HTTP=1 -o sample/lucky_http.wasm
ls -l sample/*.wasm
