"""Prints the benchmark tables (markdown) from what bench/peers.sh left in target/bench/:
native-*.txt (clinitag's and PyTorch's throughput), browser.json (bench/browser/run.mjs) and
accuracy.jsonl (bench/accuracy.sh), with the ratios clinitag / peer.

    python3 bench/report.py [target/bench]
"""

import json
import re
import sys
from pathlib import Path

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "target/bench")


def native():
    # "batch  1: 7530 words in 7.08 s = 1063 words/s (…)", one file per runtime and threads.
    rows = {}
    for path in sorted(folder.glob("native-*.txt")):
        runtime, threads = re.match(r"native-(\w+)-(\d+)\.txt", path.name).groups()
        for batch, words, seconds in re.findall(r"batch\s+(\d+): (\d+) words in ([\d.]+) s", path.read_text()):
            rows[(runtime, int(threads), int(batch))] = int(words) / float(seconds)
    if not rows:
        return
    print("| threads | batch | clinitag (flex) words/s | PyTorch words/s | clinitag / PyTorch |")
    print("| --- | --- | --- | --- | --- |")
    for threads in (1, 2):
        for batch in (1, 32):
            ours, theirs = rows.get(("clinitag", threads, batch)), rows.get(("pytorch", threads, batch))
            if ours and theirs:
                print(f"| {threads} | {batch} | {ours:,.0f} | {theirs:,.0f} | **{ours / theirs:.2f}** |")
    print()


def browser():
    path = folder / "browser.json"
    if not path.exists():
        return
    figures = json.loads(path.read_text())
    # With --repeat, each setting ran several times, each in a fresh browser: the median run.
    repeats = {}
    for f in figures:
        if f["measure"] == "throughput" and "error" not in f:
            backend = "CPU" if f["backend"] in ("cpu", "wasm") else "WebGPU"
            # Runs from before the precisions were measured apart were all f32.
            key = (backend, f.get("precision", "f32"), str(f["batch"]), f["runtime"])
            repeats.setdefault(key, []).append(f)
    runs = {}
    for key, all_runs in repeats.items():
        all_runs.sort(key=lambda f: f["wordsPerSecond"])
        runs[key] = dict(all_runs[len(all_runs) // 2], runs=len(all_runs),
                         spread=f"{all_runs[0]['wordsPerSecond']:.0f}–{all_runs[-1]['wordsPerSecond']:.0f}")
    print("| backend | weights | batch | runtime | documents | words/s (median, range of runs) | p50 ms | p95 ms | load ms | tab peak MB | clinitag / Transformers.js |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for backend in ("CPU", "WebGPU"):
        for precision in ("f32", "int8"):
            for batch in ("1", "32"):
                ours = runs.get((backend, precision, batch, "clinitag"))
                theirs = runs.get((backend, precision, batch, "transformers.js"))
                for f in (ours, theirs):
                    if not f:
                        continue
                    ratio = f"**{ours['wordsPerSecond'] / theirs['wordsPerSecond']:.2f}**" if f is ours and theirs else ""
                    print(f"| {backend} | {precision} | {batch} | {f['runtime']} ({f['found']}) | {f['documents']} "
                          f"| {f['wordsPerSecond']:.1f} ({f['spread']}, {f['runs']} runs) | {f['p50']:.0f} | {f['p95']:.0f} "
                          f"| {f['loadMs']:.0f} | {f['rendererPeakMB']} | {ratio} |")
    for f in figures:
        if f["measure"] == "throughput" and "error" in f:
            print(f"\n{f['runtime']} {f.get('backend') or f.get('device')} {f.get('precision', '')} batch {f['batch']}: "
                  f"failed: {f['error']}")
    print()
    for f in figures:
        if f["measure"] == "profile":
            print(f"Profile of clinitag on the wasm CPU, batch {f['batch']}, {f['documents']} documents "
                  f"({f['wordsPerSecond']:.0f} words/s), {f['busyMs']} ms busy.\n")
            if not any(p["ms"] for p in f["parts"]):
                # .cargo/config.toml strips the name section: V8 sees wasm-function[N] only.
                print("The module carries no function names (`-C strip=symbols`), so the parts cannot be told "
                      "apart; build it without stripping to see them.\n")
                continue
            print("Inclusive time of each part:\n")
            print("| part | ms | share |")
            print("| --- | --- | --- |")
            for p in f["parts"]:
                print(f"| {p['part'].strip() if not p['part'].startswith('  ') else '… ' + p['part'].strip()} | {p['ms']} | {100 * p['share']:.1f} % |")
            print("\nTop functions by self time:\n")
            print("| function | ms | share |")
            print("| --- | --- | --- |")
            for t in f["top"][:12]:
                print(f"| `{t['name'][:90]}` | {t['ms']} | {100 * t['share']:.1f} % |")
            print()
    loads = [f for f in figures if f["measure"] == "page load"]
    if loads:
        print("| browser | what | backend, model | ms to first tag | ms to ready | bytes served | tab peak MB | GPU process peak MB |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for f in loads:
            print(f"| {'WebGPU (SwiftShader)' if f['webgpu'] else 'no WebGPU'} | {f['what']} | {f['backend']}, {f['model']} "
                  f"| {f['ms']:,} | {f['readyMs']:,} | {f['bytesServed']:,} | {f['rendererPeakMB']} | {f['gpuProcessPeakMB']} |")
        print()


# The reference study (Rivera-Zavala & Martínez 2021) on the PharmaCoNER test set, F1 %.
STUDY = {
    ("bilstm-crf-es.clinitag", "NER"): "85.24 (Bi-LSTM-CRF)",
    ("bert-es.clinitag", "NER"): "88.80 (BERT)",
    ("bilstm-crf-es.clinitag", "indexing"): "72.85 (Bi-LSTM-CRF)",
    ("bert-es.clinitag", "indexing"): "79.97 (BERT)",
}


def f1(counts):
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn_"]
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def accuracy():
    path = folder / "accuracy.jsonl"
    if not path.exists():
        return
    print("| model | dev set | task | P | R | F1 | study (test set) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for line in path.read_text().splitlines():
        row = json.loads(line)
        for report in row["reports"]:
            task = "indexing" if "index" in report["title"].lower() or "concept" in report["title"].lower() else "NER"
            c = report["overall"]
            p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
            r = c["tp"] / (c["tp"] + c["fn_"]) if c["tp"] + c["fn_"] else 0.0
            study = STUDY.get((row["model"], task), "")
            print(f"| {row['model']} | {row['set']} | {task} | {p:.4f} | {r:.4f} | **{100 * f1(c):.2f}** | {study} |")
    print()


native()
browser()
accuracy()
