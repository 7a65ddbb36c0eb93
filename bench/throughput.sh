#!/usr/bin/env bash
# Native tagging throughput on one core: words per second over the PharmaCoNER dev texts
# (Spanish models) and the BC5CDR devel texts (English models), model loading excluded; then
# a folder on every core: `clinitag tag --threads 1` against `--threads $(nproc)` over the
# PharmaCoNER dev folder, loading included, interleaved twice.
#   bench/throughput.sh            (figures go into BENCHMARKS.md by hand, with the machine)
#   SKIP_BERT=1 bench/throughput.sh    (without the transformers, which take most of the time)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${CLINITAG_DATA:-../shared/data}
cargo build --release -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/empty.txt"

# seconds COMMAND...: wall-clock seconds of one run, pinned to one core.
seconds() {
    local start end
    start=$(date +%s.%N)
    RAYON_NUM_THREADS=1 taskset -c 0 "$@" > /dev/null 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

# The English devel set as plain text, one sentence a line.
cut -f1 "$DATA/bc5cdr/devel.tsv" | awk 'NF { printf "%s ", $0; next } { print "" }' > "$tmp/bc5cdr.txt"

run() {
    local model=$1 input=$2 words=$3 load total
    load=$(seconds target/release/clinitag tag --model "$model" "$tmp/empty.txt")
    rm -rf "$tmp/out"
    total=$(seconds target/release/clinitag tag --model "$model" "$input" -o "$tmp/out")
    printf '%-36s %8d words  load %6.2fs  tag %7.2fs  %8.0f words/s\n' "$model" "$words" \
        "$load" "$(echo "$total - $load" | bc -l)" "$(echo "$words / ($total - $load)" | bc -l)"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); one core used"
es_words=$(cat "$DATA"/pharmaconer/dev/subtrack1/*.txt | wc -w)
en_words=$(wc -w < "$tmp/bc5cdr.txt")
for model in models/dictionary-es.json models/bilstm-crf-es.clinitag; do
    [ -f "$model" ] && run "$model" "$DATA/pharmaconer/dev/subtrack1" "$es_words"
done
for model in models/dictionary-en.json models/bilstm-crf-en.clinitag; do
    [ -f "$model" ] && run "$model" "$tmp/bc5cdr.txt" "$en_words"
done

# A folder on every core: the same output whatever the threads (checked), wall time compared.
threads=$(nproc)
wall() {
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}
folder=$DATA/pharmaconer/dev/subtrack1
for models in "-m models/bilstm-crf-es.clinitag" "-m models/bilstm-crf-es.clinitag -m models/bert-es.clinitag"; do
    one=() all=()
    for _ in 1 2; do
        # shellcheck disable=SC2086
        one+=("$(wall target/release/clinitag tag $models --threads 1 "$folder" -o "$tmp/one")")
        # shellcheck disable=SC2086
        all+=("$(wall target/release/clinitag tag $models --threads "$threads" "$folder" -o "$tmp/all")")
        diff -r "$tmp/one" "$tmp/all" > /dev/null || { echo "--threads changed the output" >&2; exit 1; }
    done
    printf '%-70s --threads 1: %6.1f s %6.1f s   --threads %d: %6.1f s %6.1f s\n' "tag $models" \
        "${one[0]}" "${one[1]}" "$threads" "${all[0]}" "${all[1]}"
done
[[ ${SKIP_BERT:-0} == 1 ]] && exit 0

# BERT models: the first 20 PharmaCoNER dev documents and the first 300 BC5CDR devel
# sentences (about 7,500 words each), each read one window at a time (batch 1) and 32 windows at a time, with one
# thread and with all cores.
cargo build --release -q --example bert_throughput
head -n 300 "$tmp/bc5cdr.txt" > "$tmp/bc5cdr-300.txt"
for lang in es en; do
    model=models/bert-$lang.clinitag
    [ -f "$model" ] || continue
    if [ "$lang" = es ]; then input=("$DATA/pharmaconer/dev/subtrack1" 20); else input=("$tmp/bc5cdr-300.txt"); fi
    echo "$model, one thread:"
    RAYON_NUM_THREADS=1 taskset -c 0 target/release/examples/bert_throughput "$model" "${input[@]}"
    echo "$model, $(nproc) threads:"
    target/release/examples/bert_throughput "$model" "${input[@]}"
done
