#!/usr/bin/env python3
"""A large FHIR R4 CodeSystem for timing `IndexImport` / `clinitag index build --fhir`: the
SNOMED CT Global Patient Set's 26,158 concepts repeated under new codes until N concepts (default
100,000), each with its display and two designations (a Spanish-looking and an English one),
as a national release might carry them. Not terminology content: only its size and shape count.

    python3 bench/terminology.py ../shared/data/snomed-gps/ValueSet-snomed-intl-gps.json OUT.json [N]
"""
import json
import sys

source, out = sys.argv[1], sys.argv[2]
wanted = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
gps = json.load(open(source, encoding="utf-8"))["compose"]["include"][0]["concept"]
concepts = []
for i in range(wanted):
    base = gps[i % len(gps)]
    copy = i // len(gps)
    name = base["display"].rsplit(" (", 1)[0]
    suffix = f" {copy}" if copy else ""
    concepts.append({
        "code": f"{base['code']}{copy}" if copy else base["code"],
        "display": f"{name}{suffix}",
        "designation": [
            {"language": "es", "value": f"{name.lower()} (variante{suffix})"},
            {"language": "en", "value": f"{name}, NOS{suffix}"},
        ],
    })
json.dump({"resourceType": "CodeSystem", "url": "http://snomed.info/sct", "title": f"Benchmark {wanted}",
           "status": "active", "content": "complete", "language": "es", "concept": concepts},
          open(out, "w", encoding="utf-8"), ensure_ascii=False)
print(f"{out}: {wanted} concepts")
