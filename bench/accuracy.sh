#!/usr/bin/env bash
# Dev-set accuracy of every shipped model, and concept indexing, as JSON lines in
# target/bench/accuracy.jsonl (bench/report.py puts them next to the reference study's table):
#   bench/accuracy.sh
# Concept indexing is scored with an index built from PharmaCoNER train only (the shipped
# models/snomed-es.idx has seen dev), with gold mentions and with each Spanish model's own.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${CLINITAG_DATA:-../shared/data}
cargo build --profile ci -q --bin clinitag
bin=target/ci/clinitag
out=target/bench/accuracy
rm -rf "$out"
mkdir -p "$out"
results=target/bench/accuracy.jsonl
: > "$results"

# record MODEL SET REPORTS_JSON: one line of results.
record() {
    python3 -c 'import json,sys; print(json.dumps({"model": sys.argv[1], "set": sys.argv[2], "reports": json.loads(sys.argv[3])}))' \
        "$1" "$2" "$3" >> "$results"
    echo "$1 on $2: done"
}

"$bin" index build --brat "$D/pharmaconer/train" --abbreviations-from "$D/pharmaconer/train" \
    --abbreviations-from "$D/spanish-clinical-text/cases.txt.gz" -o "$out/train.idx" 2> /dev/null
for model in models/bilstm-crf-es.clinitag models/bert-es.clinitag models/dictionary-es.json; do
    [[ -f $model ]] || continue
    name=$(basename "$model")
    "$bin" tag -m "$model" --index "$out/train.idx" "$D/pharmaconer/dev/subtrack1" -o "$out/$name" 2> /dev/null
    record "$name" "PharmaCoNER dev" "$("$bin" eval --json "$D/pharmaconer/dev" "$out/$name")"
done
# Gold mentions: the lookup alone.
"$bin" index eval "$D/pharmaconer/dev" -i "$out/train.idx" > "$out/index-eval.txt"
python3 - "$out/index-eval.txt" >> "$results" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
row = re.search(r"overall \(micro\)\s+\S+\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)", text) or \
      re.search(r"^\S.*?\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+(\d+)\s+(\d+)\s+(\d+)\s*$", text, re.M)
tp, fp, fn = map(int, row.groups())
print(json.dumps({"model": "snomed index, gold mentions", "set": "PharmaCoNER dev",
                  "reports": [{"title": "concept indexing", "overall": {"tp": tp, "fp": fp, "fn_": fn}, "per_type": {}}]}))
PY
for corpus in bc5cdr bc2gm; do
    for model in models/bilstm-crf-en.clinitag models/bert-en.clinitag models/dictionary-en.json; do
        [[ -f $model ]] || continue
        name=$(basename "$model")
        "$bin" tag --lang en -m "$model" "$D/$corpus/devel.tsv" -o "$out/$name.$corpus.tsv" 2> /dev/null
        record "$name" "$corpus devel" \
            "$("$bin" eval --json --gold-types-only "$D/$corpus/devel.tsv" "$out/$name.$corpus.tsv")"
    done
done
