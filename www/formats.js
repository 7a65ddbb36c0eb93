// The page's export formats, from a text and the entities the tagger found in it (UTF-16
// offsets): BRAT standoff with SNOMED CT codes as AnnotatorNotes and assertions as attributes
// (offsets in characters, as BRAT counts), PharmaCoNER's subtrack 2 TSV (the document's unique
// codes), and CSV.

// BRAT counts Unicode characters (code points); JavaScript strings count UTF-16 units.
function charOffsets(text) {
  const map = new Uint32Array(text.length + 1);
  let chars = 0;
  for (let i = 0; i < text.length; i++) {
    map[i] = chars;
    const code = text.charCodeAt(i);
    if (!(code >= 0xd800 && code <= 0xdbff && i + 1 < text.length)) chars++;
  }
  map[text.length] = chars;
  return map;
}

// The BRAT attribute of each assertion other than present (as `clinitag tag` writes them).
const ASSERTION_ATTRIBUTES = {
  negated: "Negation", possible: "Possible", hypothetical: "Hypothetical", family: "Family", historical: "Historical",
};

export function bratAnn(text, entities) {
  const chars = charOffsets(text);
  const lines = [];
  entities.forEach((e, i) => {
    lines.push(`T${i + 1}\t${e.type} ${chars[e.start]} ${chars[e.end]}\t${e.text.replace(/[\r\n\t]/g, " ")}`);
  });
  let note = 1;
  entities.forEach((e, i) => {
    if (e.concept) lines.push(`#${note++}\tAnnotatorNotes T${i + 1}\t${e.concept.id}`);
  });
  // What the note does not assert as present, as the attributes clinitag's BRAT output declares.
  let attribute = 1;
  entities.forEach((e, i) => {
    const name = ASSERTION_ATTRIBUTES[e.assertion];
    if (name) lines.push(`A${attribute++}\t${name} T${i + 1}`);
  });
  return lines.join("\n") + (lines.length ? "\n" : "");
}

// Each concept once, in text order, as `document<TAB>code` lines.
export function pharmaconerTsv(document, entities) {
  const codes = new Set();
  for (const e of [...entities].sort((a, b) => a.start - b.start || a.end - b.end)) {
    if (e.concept) codes.add(e.concept.id);
  }
  return [...codes].map((code) => `${document}\t${code}\n`).join("");
}

function csvField(value) {
  const s = String(value ?? "");
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function entitiesCsv(entities) {
  const header = ["type", "start", "end", "text", "score", "snomed_ct_id", "preferred_term", "match_stage", "match_score", "sources",
    "assertion", "cue"];
  const rows = entities.map((e) => [
    e.type, e.start, e.end, e.text, e.score, e.concept?.id, e.concept?.preferred, e.concept?.stage, e.concept?.score,
    e.concept?.sources.join("; "), e.assertion, e.cue?.text,
  ]);
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

export function entitiesJson(entities) {
  return JSON.stringify({ offsets: "utf16", entities }, null, 2) + "\n";
}
