#!/usr/bin/env bash
# clinitag build entry point.
#   ./build.sh          build the command-line tool (target/release/clinitag)
#   ./build.sh wasm     build the library for wasm32-unknown-unknown (the browser build)
#   ./build.sh test     everything CI checks: formatting, clippy, the wasm32 build, all tests
set -euo pipefail
cd "$(dirname "$0")"

wasm() {
    rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
    cargo build --lib --release --target wasm32-unknown-unknown
    ls -l target/wasm32-unknown-unknown/release/clinitag.wasm
}

case "${1:-cli}" in
cli)
    cargo build --release
    echo "built target/release/clinitag; try: target/release/clinitag --help"
    ;;
wasm)
    wasm
    ;;
test)
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings
    wasm
    cargo test --release
    ;;
*)
    echo "usage: $0 [cli|wasm|test]" >&2
    exit 2
    ;;
esac
