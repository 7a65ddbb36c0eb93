#!/usr/bin/env bash
# Generated inputs by the million: the property tests of tests/properties.rs, each run with
# many more cases than CI gives it, then the cargo-fuzz targets of fuzz/ (libFuzzer, on the
# nightly toolchain) for a fixed time each. Writes the counts and times between the fuzz
# markers of RELIABILITY.md.
#   bench/fuzz.sh                       (about 50 minutes on 2 cores)
#   FUZZ_SCALE=0.01 bench/fuzz.sh       (a hundredth of the cases, to try the script)
#   FUZZ_SECONDS=0 bench/fuzz.sh        (property tests only; default 600 s per fuzz target)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${FUZZ_SCALE:-1}
SECONDS_EACH=${FUZZ_SECONDS:-600}
CARGO_FUZZ_VERSION=0.13.2

# Cases per property test: the cheap ones carry the million; those that run a model get fewer.
CASES=(
    offsets_round_trip_between_bytes_chars_and_utf16=300000
    readers_answer_any_lines_with_entities_or_an_error_naming_the_line=150000
    synonym_finders_take_any_text=150000
    brat_entities_keep_their_characters_through_reading_and_writing=150000
    terminology_readers_answer_damaged_files_with_an_error_naming_the_line=100000
    any_bytes_are_refused_as_a_model_or_an_index=100000
    a_damaged_index_is_refused_or_still_answers=20000
    taggers_return_entities_on_the_characters_of_any_text=30000
    entities_around_known_drugs_map_back_to_their_characters=10000
    a_text_tagged_in_parts_gives_the_entities_of_the_whole=1500
    propagated_mentions_repeat_found_ones_on_free_tokens_of_any_text=20000
    a_damaged_model_is_refused_or_still_tags=2000
    the_transformer_returns_entities_on_the_characters_of_any_text=1000
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows=$tmp/rows.md
total=0
cargo test --profile ci --test properties --no-run -q
for entry in "${CASES[@]}"; do
    name=${entry%=*}
    cases=$(awk -v n="${entry#*=}" -v s="$SCALE" 'BEGIN { c = int(n * s); print (c < 1 ? 1 : c) }')
    start=$SECONDS
    # A failing case stops the script here, with proptest's minimal input on the screen.
    PROPTEST_CASES=$cases cargo test --profile ci --test properties -q -- --exact "$name" >"$tmp/log" 2>&1 ||
        { cat "$tmp/log"; exit 1; }
    grep -q "1 passed" "$tmp/log" || { cat "$tmp/log"; echo "fuzz.sh: $name did not run" >&2; exit 1; }
    printf '| %s | %d | %d s |\n' "\`$name\`" "$cases" $((SECONDS - start)) | tee -a "$rows"
    total=$((total + cases))
done
printf '| **all property tests** | **%d** | |\n' "$total" | tee -a "$rows"

fuzz_rows=$tmp/fuzz.md
if ((SECONDS_EACH > 0)); then
    # Installed once; not updated on every run, which would rebuild the targets from scratch.
    rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
    if [[ "$(cargo +nightly fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
        cargo +nightly install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --force
    fi
    # Seeds: real files of each kind, which libFuzzer mutates.
    mkdir -p fuzz/corpus/files fuzz/corpus/text
    cp models/snomed-es.idx tests/fixtures/fhir/*.json tests/fixtures/rf2/*.txt fuzz/corpus/files/
    head -c 60000 models/dictionary-es.json >fuzz/corpus/files/dictionary-head.json
    cp ../shared/data/pharmaconer/dev/subtrack1/S0004-06142006000300015-1.{ann,txt} fuzz/corpus/files/
    cp ../shared/data/pharmaconer/dev/subtrack1/S000*.txt fuzz/corpus/text/
    for target in files text; do
        (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$SECONDS_EACH" \
            -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1) >"$tmp/$target.log" 2>&1 ||
            { tail -50 "$tmp/$target.log"; exit 1; }
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$target.log")
        printf '| cargo-fuzz %s | %d | %d s |\n' "\`$target\`" "$runs" "$SECONDS_EACH" | tee -a "$fuzz_rows"
    done
fi

python3 - "$rows" "$fuzz_rows" "$(date -u +%F)" "$(nproc)" <<'PY'
import pathlib, sys
rows, fuzz_rows, day, cores = sys.argv[1:]
fuzz = pathlib.Path(fuzz_rows)
table = ("| what | cases | time |\n| --- | --- | --- |\n" + pathlib.Path(rows).read_text()
         + (fuzz.read_text() if fuzz.exists() else ""))
section = (f"<!-- fuzz:begin (written by bench/fuzz.sh) -->\nMeasured {day} on {cores} cores by "
           f"`bench/fuzz.sh`; no case failed, panicked or crashed.\n\n{table}<!-- fuzz:end -->")
path = pathlib.Path("RELIABILITY.md")
text = path.read_text()
start, end = text.index("<!-- fuzz:begin"), text.index("<!-- fuzz:end -->") + len("<!-- fuzz:end -->")
path.write_text(text[:start] + section + text[end:])
PY
echo "fuzz.sh: RELIABILITY.md updated"
