#!/usr/bin/env python3
"""Writes the bundled assertion rules (src/assertion/es.json and en.json) from the trigger lists
in ../shared/data/negation, so that each phrase can be traced to its source.

    python3 scripts/assertion_rules.py ../shared/data/negation

- English: medspaCy's ConText rules (MIT, medspacy/medspacy), each spaCy token pattern expanded
  into its phrases (`LOWER`, `LOWER: {IN: [...]}`, `OP: "?"` are all the file uses).
- Spanish: NegEx-MES's lists without lemmas (MIT, PlanTL-SANIDAD/NegEx-MES): negation phrases
  before the term (forward), after it (backward), pseudo-negations and conjunctions (which end
  every scope); then clinitag's own phrases below, for the categories NegEx-MES lacks and for
  Spanish usage its translation from English misses ("se descarta X" reads forward). Where both
  list a phrase, clinitag's entry replaces NegEx-MES's.
"""

import itertools
import json
import sys
from pathlib import Path

CATEGORIES = {
    "NEGATED_EXISTENCE": "negated",
    "POSSIBLE_EXISTENCE": "possible",
    "HYPOTHETICAL": "hypothetical",
    "FAMILY": "family",
    "HISTORICAL": "historical",
}

# clinitag's Spanish phrases: (phrase, category or None for every category, direction).
SPANISH = [
    # Negation that NegEx-MES lacks or reads the other way.
    *[(p, "negated", "forward") for p in [
        "ni", "tampoco", "nunca", "ningún", "ninguna", "ninguno", "se descarta", "descarta",
        "se descartan", "se descartó", "se descartaron", "descartándose", "no presenta",
        "no refiere", "no se observa", "no se observan", "no se aprecia", "no se aprecian",
        "no hay", "no toma", "no tomaba", "sin evidencia de", "negativo para", "negativa para",
        "ausencia de", "falta de", "desaparición de", "han descartado", "se desestima",
        "en ningún momento", "imposibilidad de", "imposibilidad para", "incapaz de",
        # A drug stopped is not taken: NUBes annotates these as negation.
        "retirada de", "retirada del", "se retira", "se retiró", "retirar", "retiramos",
        "suspender", "se suspende", "suspende", "se suspendió", "suspendemos", "suspendo",
        "suspensión de", "suspensión del",
    ]],
    *[(p, "negated", "backward") for p in [
        "descartado", "descartada", "descartados", "descartadas", "negativo", "negativa",
        "negativos", "negativas", "ausente", "ausentes", "suspendido", "suspendida", "cede",
        "cedió", "ha cedido", "cediendo", "desaparece",
    ]],
    # Doubt.
    *[(p, "possible", "forward") for p in [
        "posible", "posibles", "probable", "probables", "probablemente", "sospecha de",
        "sospecha", "se sospecha", "sugestivo de", "sugestiva de", "sugerente de",
        "compatible con", "compatibles con", "impresiona de", "no se descarta",
        "no se puede descartar", "no descartar", "descartar", "para descartar", "a descartar",
        "dudoso", "dudosa", "duda", "dudas", "parece", "podría", "puede ser", "al parecer",
        "pudiera", "aparente", "no parece", "puede", "posiblemente", "aparentemente", "parecen",
        "sugiere", "sugestivos de", "sugestivas de", "se plantea", "creemos", "impresiona",
        "posibilidad de", "vs", "no clara", "sin clara", "no claro", "sin claro", "sospechosa de",
        "sospechoso de", "orientación",
    ]],
    *[(p, "possible", "backward") for p in [
        "a descartar", "en estudio", "a estudio", "dudoso", "dudosa", "?",
    ]],
    # What would happen, or is only planned.
    *[(p, "hypothetical", "forward") for p in [
        "si", "en caso de", "se valorará", "valorar", "se planteará", "plantear",
        "se propone", "de cara a",
    ]],
    # Someone else.
    *[(p, "family", "forward") for p in [
        "madre", "padre", "hermano", "hermana", "hermanos", "hermanas", "abuelo", "abuela",
        "tío", "tía", "primo", "prima", "antecedentes familiares", "antecedentes familiares de",
        "historia familiar", "familiar", "familiares",
    ]],
    # The patient's own ends a relative's scope.
    *[(p, "family", "terminate") for p in ["paciente", "el paciente", "la paciente"]],
    # Look like negation, are not.
    *[(p, None, "pseudo") for p in ["sin cambios", "sin cambios significativos"]],
    # What ends every scope.
    *[(p, None, "terminate") for p in [
        "pero", "aunque", "sin embargo", "no obstante", "excepto", "salvo", ";",
    ]],
]


def negex_list(path):
    """A NegEx-MES list: one phrase a line, `:` lines are comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(":")]


def expand(pattern):
    """The phrases a spaCy token pattern matches: each token's alternatives, optional ones
    present or not."""
    slots = []
    for token in pattern:
        lower = token["LOWER"]
        words = lower["IN"] if isinstance(lower, dict) else [lower]
        if token.get("OP") == "?":
            words = [*words, None]
        slots.append(words)
    for choice in itertools.product(*slots):
        yield " ".join(word for word in choice if word is not None)


def rule(phrase, category, direction):
    entry = {"phrase": phrase}
    if category is not None:
        entry["category"] = category
    entry["direction"] = direction
    return entry


def english(data):
    rules = json.loads((data / "medspacy-context" / "context_rules.json").read_text())
    out, seen = [], set()
    for r in rules["context_rules"]:
        category = CATEGORIES[r["category"]]
        direction = r["direction"].lower()
        phrases = expand(r["pattern"]) if r["pattern"] else [r["literal"]]
        for phrase in phrases:
            key = (phrase.lower(), direction)
            if key not in seen:
                seen.add(key)
                out.append(rule(phrase.lower(), category, direction))
    return {
        "language": "en",
        "source": "medspaCy's ConText rules (MIT, medspacy/medspacy), patterns expanded",
        "rules": out,
    }


def spanish(data):
    lists = data / "negex-mes" / "smn" / "config_files" / "spa" / "without_lemma"
    entries = {}

    def add(phrase, category, direction):
        entries[(phrase.lower(), direction)] = rule(phrase.lower(), category, direction)

    for phrase in negex_list(lists / "neg-phrases.txt"):
        add(phrase, "negated", "forward")
    for phrase in negex_list(lists / "post-neg-phrases.txt"):
        add(phrase, "negated", "backward")
    for phrase in negex_list(lists / "pseudo-neg-phrases.txt"):
        add(phrase, None, "pseudo")
    for phrase in negex_list(lists / "conjunctions.txt"):
        add(phrase, None, "terminate")
    own = {phrase for phrase, _, _ in SPANISH}
    # clinitag's entry for a phrase replaces NegEx-MES's, whatever its direction.
    entries = {key: value for key, value in entries.items() if key[0] not in own}
    for phrase, category, direction in SPANISH:
        add(phrase, category, direction)
    return {
        "language": "es",
        # Chosen on NUBes 002-009 (bench/assertion.sh scores 010).
        "max_scope": 5,
        "source": "NegEx-MES (MIT, PlanTL-SANIDAD/NegEx-MES) and clinitag's own phrases "
        "(scripts/assertion_rules.py)",
        "rules": list(entries.values()),
    }


def main():
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/negation")
    out = Path(__file__).resolve().parent.parent / "src" / "assertion"
    for name, rules in (("en.json", english(data)), ("es.json", spanish(data))):
        # One rule a line, so that a change to the lists reads as a change of lines.
        lines = ",\n".join(json.dumps(r, ensure_ascii=False) for r in rules["rules"])
        head = json.dumps({k: v for k, v in rules.items() if k != "rules"}, ensure_ascii=False)
        text = head[:-1] + ', "rules": [\n' + lines + "\n]}\n"
        (out / name).write_text(text, encoding="utf-8")
        print(f"{name}: {len(rules['rules'])} phrases")


if __name__ == "__main__":
    main()
