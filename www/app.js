// The page: settings, text input, highlighting, the entity table and exports. All tagging
// happens in worker.js; this file only talks to it and draws.

const $ = (id) => document.getElementById(id);
const ARCHITECTURES = { bert: "BERT", "bilstm-crf": "Bi-LSTM-CRF", dictionary: "Dictionary (baseline)" };
// The Bi-LSTM-CRF first: a 3.7 MB download that tags in about a second on any CPU. BERT (45 MB,
// slower without a real GPU) is one click away.
const PREFERRED = ["bilstm-crf", "bert", "dictionary"];
const TYPE_NAMES = {
  NORMALIZABLES: "Drug or chemical (normalizable)",
  PROTEINAS: "Protein or gene",
  NO_NORMALIZABLES: "Chemical, not normalizable",
  UNCLEAR: "Unclear",
  Chemical: "Chemical or drug",
  Disease: "Disease",
  GENE: "Gene or protein",
};
const EXAMPLES = {
  es: "Varón de 67 años con antecedentes de hipertensión arterial en tratamiento con enalapril 20 mg/día " +
    "y diabetes mellitus tipo 2 con metformina. Acude por fiebre y tos. En la analítica destacan " +
    "proteína C reactiva de 84 mg/l, creatinina 1,4 mg/dl y potasio 5,1 mEq/l; la TSH y la T4 libre " +
    "son normales. Se inicia amoxicilina-ácido clavulánico y paracetamol, y se suspende el enalapril.\n",
  en: "Cisplatin-induced nephrotoxicity in a patient with small cell lung cancer was reversed by " +
    "intravenous magnesium sulfate. Expression of the BRCA1 and TP53 genes was measured, and the " +
    "patient later developed peripheral neuropathy after treatment with paclitaxel.\n",
};

const state = {
  manifest: null,
  // Worker failures since the last model was ready (see recover).
  failures: 0,
  worker: null,
  labels: [],
  entities: [],
  text: "",
  name: "text",
  pending: new Map(),
  nextId: 1,
  loading: null,
};

// The status line, and the page's state on <body data-state> (loading, tagging, ready,
// error) for scripts and tests.
function setStatus(message, pageState) {
  $("status").textContent = message;
  $("status").classList.toggle("error", pageState === "error");
  document.body.dataset.state = pageState;
}

// Why "Automatic" kept to the CPU, in plain words, with wgpu's or the adapter's own words one
// click away for whoever supports the user.
function showFallback(reason, detail) {
  $("backend-detail").hidden = !reason;
  $("backend-reason").textContent = reason
    ? `Tagging runs on this computer's processor because ${reason}. Your text stays on this computer either way.`
    : "";
  $("backend-technical").textContent = detail ?? "";
}

function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

// ---- the worker ----------------------------------------------------------------------------

function startWorker() {
  const worker = new Worker("worker.js", { type: "module" });
  worker.onmessage = ({ data }) => {
    if (data.type === "progress") {
      const bar = $("progress");
      bar.hidden = data.loaded >= data.total;
      bar.max = data.total;
      bar.value = data.loaded;
      setStatus(`Downloading the model… ${megabytes(data.loaded)} of ${megabytes(data.total)}`, "loading");
    } else if (data.type === "import-progress") {
      const bar = $("terminology-progress");
      bar.hidden = false;
      bar.max = data.total;
      bar.value = data.done;
      setStatus(`Importing your terminology: ${data.message}`, "loading");
    } else if (data.type === "ready") {
      $("progress").hidden = true;
      $("terminology-progress").hidden = true;
      showTerminology(data.terminology);
      state.labels = data.labels;
      state.failures = 0;
      const where = data.backend === "webgpu" ? "the GPU (WebGPU)" : "the CPU";
      setStatus(`${ARCHITECTURES[data.architecture] ?? data.architecture} ready on ${where}.`, "ready");
      showFallback(data.fallbackReason, data.fallbackDetail);
      document.body.dataset.backend = data.backend;
      state.loading?.resolve();
    } else if (data.type === "tag-progress") {
      // Shown only for a text long enough to be tagged in several parts.
      const bar = $("tag-progress");
      bar.hidden = data.done >= data.total;
      bar.max = data.total;
      bar.value = data.done;
      bar.dataset.reports = Number(bar.dataset.reports ?? 0) + 1;
      if (data.done < data.total) setStatus(`Finding entities… ${Math.floor((100 * data.done) / data.total)} %`, "tagging");
    } else if (data.type === "crashed") {
      recover(data.message);
    } else if (data.type === "tagged") {
      state.pending.get(data.id)?.resolve(data);
      state.pending.delete(data.id);
    } else if (data.type === "error") {
      $("progress").hidden = true;
      if (data.id !== undefined && state.pending.has(data.id)) {
        state.pending.get(data.id).reject(new Error(data.message));
        state.pending.delete(data.id);
      } else {
        state.loading?.reject(new Error(data.message));
      }
    }
  };
  worker.onerror = (event) => {
    event.preventDefault();
    recover(event.message || "the worker failed");
  };
  return worker;
}

// The worker died or its wasm instance trapped (a panic, memory exhausted): what it held is
// lost, the user's text is not. A new worker loads the same model, from the cache. The text
// is not tagged again by itself, since the same text might stop it again; after three
// failures in a row (a load that keeps failing) the page stops trying.
function recover(message) {
  state.worker.terminate();
  const stopped = new Error(`the tagger stopped unexpectedly (${message})`);
  for (const { reject } of state.pending.values()) reject(stopped);
  state.pending.clear();
  state.loading?.reject(stopped);
  state.failures += 1;
  document.body.dataset.restarts = Number(document.body.dataset.restarts ?? 0) + 1;
  if (state.failures > 3) {
    setStatus(`The tagger stopped unexpectedly and could not be restarted (${message}). Your text is still here; reload the page to try again.`, "error");
    return;
  }
  state.worker = startWorker();
  loadModel({
    notice: `The tagger stopped unexpectedly (${message}) and was restarted. Your text is still here: press “Find entities” to try again.`,
  });
}

// What the concept index in use holds: the bundled one, or the user's terminology on top.
function showTerminology(terminology) {
  const status = $("terminology-status");
  document.body.dataset.terminology = terminology ? (terminology.user ? "user" : "bundled") : "none";
  $("terminology-remove").hidden = !terminology?.user;
  $("terminology-file").disabled = !terminology;
  if (!terminology) {
    status.textContent = "This model has no concept index.";
    $("terminology-sources").replaceChildren();
    return;
  }
  const size = `${terminology.concepts.toLocaleString()} concepts, ${terminology.terms.toLocaleString()} terms`;
  status.textContent = terminology.user
    ? `Your terminology is in use, with the bundled index (${size}). It stays in this browser.`
    : `Concepts from the bundled index (${size}).` +
      (terminology.stale ? " Your terminology was built on an older bundled index: open it again to use it." : "");
  $("terminology-sources").replaceChildren(
    ...terminology.sources.map((source) => Object.assign(document.createElement("li"), { textContent: source })),
  );
}

async function importTerminology() {
  const chosen = [...$("terminology-file").files];
  $("terminology-file").value = "";
  if (!chosen.length) return;
  const files = await Promise.all(chosen.map(async (f) => ({ name: f.name, bytes: await f.arrayBuffer() })));
  $("tag").disabled = true;
  const loaded = new Promise((resolve, reject) => (state.loading = { resolve, reject }));
  state.worker.postMessage({ type: "import", files }, files.map((f) => f.bytes));
  try {
    await loaded;
    $("tag").disabled = false;
    if (state.text) await tag();
  } catch (error) {
    $("terminology-progress").hidden = true;
    setStatus(`Could not use your terminology: ${error.message}`, "error");
    $("tag").disabled = false;
  }
}

async function removeTerminology() {
  $("tag").disabled = true;
  const loaded = new Promise((resolve, reject) => (state.loading = { resolve, reject }));
  state.worker.postMessage({ type: "remove-terminology" });
  try {
    await loaded;
    $("tag").disabled = false;
    if (state.text) await tag();
  } catch (error) {
    setStatus(error.message, "error");
  }
}

function tagInWorker(text) {
  const id = state.nextId++;
  return new Promise((resolve, reject) => {
    state.pending.set(id, { resolve, reject });
    state.worker.postMessage({ type: "tag", id, text });
  });
}

// Loads the chosen model in the worker, then tags the text again, or, after a restart
// (`notice`), only says so.
async function loadModel({ notice } = {}) {
  const language = $("language").value;
  const entry = state.manifest.models.find((m) => m.language === language && m.architecture === $("model").value);
  const index = state.manifest.indexes.find((i) => i.language === language) ?? null;
  $("tag").disabled = true;
  setStatus(`Loading ${ARCHITECTURES[entry.architecture]} (${megabytes(entry.bytes)})…`, "loading");
  const loaded = new Promise((resolve, reject) => (state.loading = { resolve, reject }));
  state.worker.postMessage({ type: "load", model: entry, index, backend: $("backend").value });
  state.modelLoading = true;
  try {
    await loaded;
    state.modelLoading = false;
    $("tag").disabled = false;
    if (notice) setStatus(notice, "ready");
    else if (state.text) await tag();
  } catch (error) {
    state.modelLoading = false;
    if (!error.message.startsWith("the tagger stopped")) setStatus(`Could not load the model: ${error.message}`, "error");
  }
}

function fillModels() {
  const language = $("language").value;
  const models = state.manifest.models
    .filter((m) => m.language === language)
    .sort((a, b) => PREFERRED.indexOf(a.architecture) - PREFERRED.indexOf(b.architecture));
  $("model").replaceChildren(
    ...models.map((m) => new Option(`${ARCHITECTURES[m.architecture] ?? m.architecture} (${megabytes(m.bytes)})`, m.architecture)),
  );
}

// ---- tagging and drawing -------------------------------------------------------------------

async function tag() {
  const text = $("text").value;
  state.text = text;
  $("tag").disabled = true;
  setStatus("Finding entities…", "tagging");
  try {
    $("tag-progress").dataset.reports = 0;
    const result = await tagInWorker(text);
    state.entities = result.entities;
    draw();
    document.body.dataset.results = Number(document.body.dataset.results ?? 0) + 1;
    setStatus(`Found ${result.entities.length} entities in ${Math.round(result.ms)} ms.`, "ready");
  } catch (error) {
    // A restart after a crash says what happened itself.
    if (!state.modelLoading) setStatus(error.message, "error");
  } finally {
    $("tag-progress").hidden = true;
    $("tag").disabled = Boolean(state.modelLoading);
  }
}

// A source as the index describes it, "name: what it added", shortened to its name.
const sourceName = (source) => source.split(": ")[0];

function typeClass(label) {
  let i = state.labels.indexOf(label);
  if (i < 0) i = state.labels.push(label) - 1;
  return `t${i % 6}`;
}

function describe(entity) {
  const type = TYPE_NAMES[entity.type] ?? entity.type;
  if (!entity.concept) return `${type}; no SNOMED CT concept`;
  const c = entity.concept;
  const from = c.sources.length ? `; from ${c.sources.join("; ")}` : "";
  return `${type}; SNOMED CT ${c.id} “${c.preferred}” (${c.stage} match, score ${c.score.toFixed(2)}${from})`;
}

// Marks nest: an entity inside another is drawn inside it; one that crosses another's
// boundary is left to the table.
function highlight(text, entities) {
  const sorted = entities.map((e, i) => ({ ...e, i })).sort((a, b) => a.start - b.start || b.end - a.end);
  const root = document.createDocumentFragment();
  const stack = [{ node: root, end: Infinity }];
  let cursor = 0;
  const emit = (until) => {
    if (until > cursor) stack.at(-1).node.append(text.slice(cursor, until));
    cursor = Math.max(cursor, until);
  };
  for (const entity of sorted) {
    while (stack.length > 1 && stack.at(-1).end <= entity.start) {
      emit(stack.at(-1).end);
      stack.pop();
    }
    if (entity.start < cursor || entity.end > stack.at(-1).end) continue;
    emit(entity.start);
    const mark = document.createElement("mark");
    mark.className = typeClass(entity.type);
    mark.tabIndex = 0;
    mark.setAttribute("role", "button");
    mark.dataset.index = entity.i;
    mark.title = describe(entity);
    mark.setAttribute("aria-label", `${entity.text}: ${describe(entity)}`);
    stack.at(-1).node.append(mark);
    stack.push({ node: mark, end: entity.end });
  }
  while (stack.length > 1) {
    emit(stack.at(-1).end);
    stack.pop();
  }
  emit(text.length);
  return root;
}

const TABLE_ROWS = 2000;

function draw() {
  $("results").hidden = false;
  const counts = {};
  for (const e of state.entities) counts[e.type] = (counts[e.type] ?? 0) + 1;
  $("summary").textContent = `(${state.entities.length})`;
  $("legend").replaceChildren(
    ...state.labels.map((label) => {
      const li = document.createElement("li");
      li.className = typeClass(label);
      li.textContent = `${TYPE_NAMES[label] ?? label} — ${counts[label] ?? 0}`;
      return li;
    }),
  );
  $("highlighted").replaceChildren(highlight(state.text, state.entities));
  // A table of tens of thousands of rows (a long text) would freeze the page for seconds while
  // it lays out; the highlights and the exports keep every entity.
  const shown = state.entities.slice(0, TABLE_ROWS);
  $("table-note").hidden = shown.length === state.entities.length;
  $("table-note").textContent = `The table shows the first ${shown.length.toLocaleString("en")} of ${state.entities.length.toLocaleString("en")} entities; the highlighted text and the exports have them all.`;
  $("table").tBodies[0].replaceChildren(
    ...shown.map((e) => {
      const row = document.createElement("tr");
      const cells = [
        TYPE_NAMES[e.type] ?? e.type, e.text, e.start, e.end, e.score.toFixed(3),
        e.concept?.id ?? "—", e.concept?.preferred ?? "", e.concept ? `${e.concept.stage} (${e.concept.score.toFixed(2)})` : "",
        e.concept?.sources.map(sourceName).join("; ") ?? "",
      ];
      row.replaceChildren(...cells.map((value) => Object.assign(document.createElement("td"), { textContent: value })));
      return row;
    }),
  );
  $("details").textContent = "Select a highlighted mention (click, or Tab and Enter) to see its SNOMED CT concept.";
}

function select(mark) {
  document.querySelectorAll("mark.selected").forEach((m) => m.classList.remove("selected"));
  mark.classList.add("selected");
  const entity = state.entities[Number(mark.dataset.index)];
  $("details").replaceChildren(
    Object.assign(document.createElement("strong"), { textContent: entity.text }),
    ` — ${describe(entity)}; characters ${entity.start}–${entity.end}, confidence ${entity.score.toFixed(3)}.`,
  );
}

// ---- exports -------------------------------------------------------------------------------

function download(name, type, content) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

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

function toBrat() {
  const chars = charOffsets(state.text);
  const lines = [];
  state.entities.forEach((e, i) => {
    lines.push(`T${i + 1}\t${e.type} ${chars[e.start]} ${chars[e.end]}\t${e.text.replace(/[\r\n\t]/g, " ")}`);
  });
  let note = 1;
  state.entities.forEach((e, i) => {
    if (e.concept) lines.push(`#${note++}\tAnnotatorNotes T${i + 1}\t${e.concept.id}`);
  });
  return lines.join("\n") + (lines.length ? "\n" : "");
}

function csvField(value) {
  const s = String(value ?? "");
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function toCsv() {
  const header = ["type", "start", "end", "text", "score", "snomed_ct_id", "preferred_term", "match_stage", "match_score", "sources"];
  const rows = state.entities.map((e) => [
    e.type, e.start, e.end, e.text, e.score, e.concept?.id, e.concept?.preferred, e.concept?.stage, e.concept?.score,
    e.concept?.sources.join("; "),
  ]);
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

// ---- wiring --------------------------------------------------------------------------------

async function main() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch((e) => console.warn("offline use unavailable:", e));
  }
  state.worker = startWorker();
  try {
    const response = await fetch("manifest.json", { cache: "no-cache" });
    state.manifest = await response.json();
  } catch (error) {
    setStatus(`Cannot read the list of models (manifest.json): ${error.message}`, "error");
    return;
  }
  $("language").onchange = () => {
    fillModels();
    loadModel();
  };
  $("model").onchange = loadModel;
  $("backend").onchange = loadModel;
  $("tag").onclick = tag;
  $("text").onkeydown = (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !$("tag").disabled) tag();
  };
  $("example").onclick = () => {
    $("text").value = EXAMPLES[$("language").value];
    if (!$("tag").disabled) tag();
  };
  $("clear").onclick = () => {
    $("text").value = "";
    state.text = "";
    state.entities = [];
    $("results").hidden = true;
  };
  $("file").onchange = async () => {
    const file = $("file").files[0];
    if (!file) return;
    $("text").value = await file.text();
    state.name = file.name.replace(/\.[^.]*$/, "") || "text";
    if (!$("tag").disabled) tag();
  };
  $("highlighted").onclick = (event) => {
    const mark = event.target.closest("mark");
    if (mark) select(mark);
  };
  $("highlighted").onkeydown = (event) => {
    const mark = event.target.closest("mark");
    if (mark && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      select(mark);
    }
  };
  $("terminology-file").onchange = importTerminology;
  $("terminology-remove").onclick = removeTerminology;
  $("export-brat").onclick = () => download(`${state.name}.ann`, "text/plain", toBrat());
  $("export-json").onclick = () =>
    download(`${state.name}.json`, "application/json", JSON.stringify({ offsets: "utf16", entities: state.entities }, null, 2) + "\n");
  $("export-csv").onclick = () => download(`${state.name}.csv`, "text/csv", toCsv());
  fillModels();
  await loadModel();
}

main();
