"""Where clinitag's GPU time goes, from cubecl's profile log (bench/gpu.sh writes it):

    python3 bench/gpu_profile.py PROFILE_LOG

The log has one line per kernel launch, "| 12.3µs     | kernel name"; this sums the time by
kind of work (matrix products, attention's softmax, layer norms, element-wise, copies) and by
kernel, and prints both as Markdown tables. Timing every launch on its own adds a wait after
each one, so the shares count, not the total.
"""

import re
import sys
from collections import defaultdict

UNITS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}

# The first pattern a kernel's name matches names its kind of work (cubecl's kernel names).
KINDS = [
    ("matrix products", r"^Matmul"),
    ("reductions (softmax, layer norm)", r"^Reduce"),
    ("element-wise (GELU, residual adds, scaling, mask)", r"Binop|Unary"),
    ("copies into contiguous layouts", r"^Copy"),
    ("gathers (embeddings, first pieces)", r"^Select|Gather"),
    ("random numbers (weights drawn at load)", r"^Prng"),
    ("fills", r"^Full"),
]


def main():
    per_kernel = defaultdict(lambda: [0.0, 0])
    for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
        found = re.match(r"\|\s*([\d.]+)(ns|µs|us|ms|s)\s*\|\s*(.+?)\s*$", line)
        if found:
            value, unit, name = found.groups()
            # "MatmulEntry | TensorArgs | ...": the first two parts, without their hashes.
            name = " | ".join(re.sub(r"_[0-9a-f]{8}$", "", part) for part in name.split(" | ")[:2])
            entry = per_kernel[name]
            entry[0] += float(value) * UNITS[unit]
            entry[1] += 1
    total = sum(ms for ms, _ in per_kernel.values())
    if not total:
        sys.exit("no timed kernels in the log")
    per_kind = defaultdict(float)
    for name, (ms, _) in per_kernel.items():
        kind = next((k for k, pattern in KINDS if re.search(pattern, name, re.I)), "other")
        per_kind[kind] += ms
    launches = sum(n for _, n in per_kernel.values())
    print(f"{launches:,} kernel launches, {total:,.1f} ms on the GPU\n")
    print("| work | GPU ms | share |\n|---|---|---|")
    for kind, ms in sorted(per_kind.items(), key=lambda kv: -kv[1]):
        print(f"| {kind} | {ms:,.1f} | {100 * ms / total:.1f} % |")
    print("\n| kernel | launches | GPU ms | mean µs | share |\n|---|---|---|---|---|")
    for name, (ms, n) in sorted(per_kernel.items(), key=lambda kv: -kv[1][0])[:12]:
        print(f"| `{name[:80]}` | {n:,} | {ms:,.1f} | {1000 * ms / n:,.1f} | {100 * ms / total:.1f} % |")


if __name__ == "__main__":
    main()
