// The page: settings, text input, highlighting, the entity table and exports. All tagging
// happens in the npm package's worker (pkg/index.js, `createTagger`); this file fetches and
// checks the files, and draws.

import { createTagger } from "./pkg/index.js";
import { setUpBatch } from "./batch.js";
import { bratAnn, entitiesCsv, entitiesJson } from "./formats.js";

const $ = (id) => document.getElementById(id);
const ARCHITECTURES = {
  bert: "BERT",
  "bilstm-crf": "Bi-LSTM-CRF",
  ensemble: "Bi-LSTM-CRF + BERT (ensemble)",
  dictionary: "Dictionary (baseline)",
};
// The Bi-LSTM-CRF first: a 2–3 MB download that tags in about a second on any CPU. BERT (larger,
// slower without a real GPU) and the two together, the most accurate, are one click away.
const PREFERRED = ["bilstm-crf", "bert", "ensemble", "dictionary"];
// The models an ensemble choice combines, from the manifest's entries of one language.
const ENSEMBLE = ["bilstm-crf", "bert"];
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
  tagger: null,
  // The files the tagger was started on: {modelBytes, indexBytes, index, language}.
  current: null,
  // The choices (language, model, backend) behind the tagger in use, and its files.
  inUse: null,
  loadRequest: null,
  labels: [],
  entities: [],
  // The entities drawn: all, or those the note asserts as present (see draw).
  visible: [],
  text: "",
  name: "text",
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

// ---- files and the tagger -------------------------------------------------------------------
//
// The page downloads the model and index listed in manifest.json (from Cache Storage when it
// can, so a second visit works offline), checks each against its SHA-256, and hands the bytes
// to the npm package's `createTagger`, which runs the tagger in a Web Worker of its own. The
// user's own terminology (an RF2 release or FHIR files, chosen on the page) is built into a
// concept index in that worker, on top of the bundled index, and kept in Cache Storage under
// the language, with the hash of the bundled index it was built on. Nothing is ever uploaded.

const CACHE = "clinitag-models-v1";
const TERMINOLOGY = "clinitag-terminology-v1";

// The SHA-256 of some bytes, in lower-case hex as manifest.json writes it. WebCrypto exists
// only in secure contexts (HTTPS, localhost), which the service worker needs as well.
async function sha256(bytes) {
  if (!crypto?.subtle) throw new Error("this page must be served over HTTPS (or from localhost) to check its files");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The bytes of a listed file, checked against the SHA-256 that manifest.json gives it: from
// the cache when a copy there matches (one that does not is dropped), else downloaded (with
// progress reports), checked, and cached under its hash, so a new model version replaces the
// old. A download that does not match is refused and not kept: a CRC inside the file guards
// against damage, the hash against a swapped or altered file.
async function fetchBytes(entry, progress) {
  const key = `${entry.file}?sha256=${entry.sha256}`;
  const cache = await caches.open(CACHE);
  const cached = await cache.match(key);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    if ((await sha256(bytes)) === entry.sha256) {
      progress(bytes.length);
      return bytes;
    }
    await cache.delete(key);
  }
  const response = await fetch(key);
  if (!response.ok) throw new Error(`cannot download ${entry.file}: HTTP ${response.status}`);
  const reader = response.body.getReader();
  const bytes = new Uint8Array(entry.bytes);
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.length > bytes.length) throw new Error(`${entry.file} is larger than its manifest says`);
    bytes.set(value, received);
    received += value.length;
    progress(value.length);
  }
  if (received !== bytes.length) throw new Error(`${entry.file} is truncated (${received} of ${bytes.length} bytes)`);
  if ((await sha256(bytes)) !== entry.sha256) {
    throw new Error(
      `${entry.file} is not the file this page lists (its SHA-256 differs), so it was not used. ` +
        "Something between this computer and the server changed it: reload to try again, or tell whoever runs this page.",
    );
  }
  await cache.put(key, new Response(bytes, { headers: { "content-type": "application/octet-stream" } }));
  // Older versions of the same file are dead weight.
  for (const request of await cache.keys()) {
    const url = new URL(request.url);
    if (url.pathname.endsWith(`/${entry.file}`) && !request.url.endsWith(key)) await cache.delete(request);
  }
  return bytes;
}

const userIndexKey = (language) => `user-terminology-${language}.idx`;

// The user's index for a language: its bytes, or {stale: true} when it was built on another
// version of the bundled index (the user must import again), or null when there is none.
async function userIndex(language, base) {
  const cache = await caches.open(TERMINOLOGY);
  const hit = await cache.match(userIndexKey(language));
  if (!hit) return null;
  if (hit.headers.get("x-base-sha256") !== (base?.sha256 ?? "")) return { stale: true };
  return { bytes: new Uint8Array(await hit.arrayBuffer()) };
}

function showDownload(loaded, total) {
  const bar = $("progress");
  bar.hidden = loaded >= total;
  bar.max = total;
  bar.value = loaded;
  setStatus(`Downloading the model… ${megabytes(loaded)} of ${megabytes(total)}`, "loading");
}

// The tagger is ready: say where it runs and which concept index it uses.
function showReady(terminology) {
  const tagger = state.tagger;
  $("progress").hidden = true;
  $("terminology-progress").hidden = true;
  showTerminology(tagger.index && { ...tagger.index, ...terminology });
  state.labels = tagger.labels;
  state.failures = 0;
  const where = tagger.backend === "webgpu" ? "the GPU (WebGPU)" : "the CPU";
  setStatus(`${ARCHITECTURES[tagger.architecture] ?? tagger.architecture} ready on ${where}.`, "ready");
  showFallback(tagger.fallbackReason, tagger.fallbackDetail);
  document.body.dataset.backend = tagger.backend;
}

// (Re)starts the tagger on the downloaded files, with the user's index for the language if
// there is one: in the worker already running where there is one, which keeps its compiled
// WebAssembly module.
async function startTagger() {
  const { modelBytes, indexBytes, index, language } = state.current;
  const mine = indexBytes ? await userIndex(language, index) : null;
  const settings = { model: modelBytes, index: mine?.bytes ?? indexBytes, backend: $("backend").value };
  if (state.tagger) await state.tagger.load(settings);
  else state.tagger = await createTagger(settings);
  showReady({ user: Boolean(mine?.bytes), stale: Boolean(mine?.stale) });
}

// The tagger's wasm instance trapped (a panic, memory exhausted) or its worker died: what it
// held is lost, the user's text is not. A new tagger loads the same files. The text is not
// tagged again by itself, since the same text might stop it again; after three failures in a
// row (a load that keeps failing) the page stops trying.
async function recover(reason) {
  state.tagger?.close();
  state.tagger = null;
  state.failures += 1;
  document.body.dataset.restarts = Number(document.body.dataset.restarts ?? 0) + 1;
  if (state.failures > 3) {
    setStatus(`The tagger stopped unexpectedly and could not be restarted (${reason}). Your text is still here; reload the page to try again.`, "error");
    return;
  }
  setStatus(`The tagger stopped unexpectedly (${reason}); restarting it…`, "loading");
  try {
    await startTagger();
    setStatus(`The tagger stopped unexpectedly (${reason}) and was restarted. Your text is still here: press “Find entities” to try again.`, "ready");
    $("tag").disabled = false;
  } catch (error) {
    if (error.crashed) return recover(error.reason);
    setStatus(`Could not restart the tagger: ${error.message}`, "error");
  }
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

// Builds the chosen files into an index on top of the bundled one (in the tagger's worker),
// keeps it, and tags with it. A file that cannot be read stops the import with its name; the
// index in use stays as it was.
async function importTerminology() {
  const chosen = [...$("terminology-file").files];
  $("terminology-file").value = "";
  if (!chosen.length || !state.tagger) return;
  const files = await Promise.all(chosen.map(async (f) => ({ name: f.name, bytes: await f.arrayBuffer() })));
  $("tag").disabled = true;
  const bar = $("terminology-progress");
  try {
    const { indexBytes, index, language } = state.current;
    const bytes = await state.tagger.buildIndex(files, {
      base: indexBytes,
      onProgress: (done, total, message) => {
        bar.hidden = false;
        bar.max = total;
        bar.value = done;
        setStatus(`Importing your terminology: ${message}`, "loading");
      },
    });
    const cache = await caches.open(TERMINOLOGY);
    await cache.put(userIndexKey(language), new Response(bytes, {
      headers: { "content-type": "application/octet-stream", "x-base-sha256": index?.sha256 ?? "" },
    }));
    await state.tagger.useIndex(bytes);
    showReady({ user: true, stale: false });
    $("tag").disabled = false;
    if (state.text) await tag();
  } catch (error) {
    bar.hidden = true;
    if (error.crashed) return recover(error.reason);
    setStatus(`Could not use your terminology: ${error.message}`, "error");
    $("tag").disabled = false;
  }
}

async function removeTerminology() {
  if (!state.tagger) return;
  $("tag").disabled = true;
  try {
    const cache = await caches.open(TERMINOLOGY);
    await cache.delete(userIndexKey(state.current.language));
    await state.tagger.useIndex(state.current.indexBytes);
    showReady({ user: false, stale: false });
    $("tag").disabled = false;
    if (state.text) await tag();
  } catch (error) {
    if (error.crashed) return recover(error.reason);
    setStatus(error.message, "error");
  }
}

// Downloads the chosen model and index and starts a tagger on them, then tags the text again.
async function loadModel() {
  const language = $("language").value;
  const choice = $("model").value;
  const entries = modelsOf(language, choice);
  const index = state.manifest.indexes.find((i) => i.language === language) ?? null;
  $("tag").disabled = true;
  const modelMegabytes = megabytes(entries.reduce((sum, e) => sum + e.bytes, 0));
  setStatus(`Loading ${ARCHITECTURES[choice] ?? choice} (${modelMegabytes})…`, "loading");
  state.modelLoading = true;
  const request = (state.loadRequest = {});
  const previous = state.inUse;
  try {
    const total = entries.reduce((sum, e) => sum + e.bytes, 0) + (index?.bytes ?? 0);
    let loaded = 0;
    const progress = (n) => showDownload((loaded += n), total);
    const [indexBytes, ...files] = await Promise.all([
      index ? fetchBytes(index, progress) : null,
      ...entries.map((entry) => fetchBytes(entry, progress)),
    ]);
    // Several models tag as an ensemble.
    const modelBytes = files.length > 1 ? files : files[0];
    // A later choice (another language or model) while this one downloaded wins.
    if (request !== state.loadRequest) return;
    state.current = { modelBytes, indexBytes, index, language };
    await startTagger();
    state.inUse = { language, choice, backend: $("backend").value, current: state.current };
    rememberChoice(state.inUse);
    state.modelLoading = false;
    $("tag").disabled = false;
    if (state.text) await tag();
  } catch (error) {
    if (request !== state.loadRequest) return;
    state.modelLoading = false;
    $("progress").hidden = true;
    if (error.crashed) return recover(error.reason);
    if (state.tagger && previous) {
      // A failed load leaves the tagger in use as it was (`load` frees it only once the new
      // one is ready): the clinician keeps tagging with it, and the lists show it again.
      state.current = previous.current;
      $("language").value = previous.language;
      fillModels();
      $("model").value = previous.choice;
      $("backend").value = previous.backend;
      $("tag").disabled = false;
      const name = ARCHITECTURES[previous.choice] ?? previous.choice;
      setStatus(`Could not load the model: ${error.message.replace(/\.$/, "")}. Still using the ${name}.`, "error");
      return;
    }
    state.tagger?.close();
    state.tagger = null;
    setStatus(`Could not load the model: ${error.message}`, "error");
  }
}

// The clinician's language, model and backend, kept for the next visit once they have loaded:
// a cached visit then loads only the model in use, not the default one first.
const CHOICE_KEY = "clinitag.choice";

function rememberChoice({ language, choice, backend }) {
  try {
    localStorage.setItem(CHOICE_KEY, JSON.stringify({ language, model: choice, backend }));
  } catch {
    // Storage off (a private window, a policy): every visit starts on the defaults.
  }
}

// The lists as last used, where this page still offers what was chosen; the defaults otherwise.
function restoreChoice() {
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(CHOICE_KEY));
  } catch {
    // Unreadable: the defaults.
  }
  const offers = (id, value) => [...$(id).options].some((option) => option.value === value);
  if (offers("language", saved?.language)) $("language").value = saved.language;
  fillModels();
  if (offers("model", saved?.model)) $("model").value = saved.model;
  if (offers("backend", saved?.backend)) $("backend").value = saved.backend;
}

// The manifest's entries behind a choice of the model list: one model, or an ensemble's.
function modelsOf(language, choice) {
  const architectures = choice === "ensemble" ? ENSEMBLE : [choice];
  return architectures.map((a) => state.manifest.models.find((m) => m.language === language && m.architecture === a));
}

function fillModels() {
  const language = $("language").value;
  const models = state.manifest.models.filter((m) => m.language === language);
  const choices = models.map((m) => ({ value: m.architecture, bytes: m.bytes }));
  if (ENSEMBLE.every((a) => models.some((m) => m.architecture === a))) {
    choices.push({ value: "ensemble", bytes: modelsOf(language, "ensemble").reduce((sum, m) => sum + m.bytes, 0) });
  }
  choices.sort((a, b) => PREFERRED.indexOf(a.value) - PREFERRED.indexOf(b.value));
  $("model").replaceChildren(
    ...choices.map((c) => new Option(`${ARCHITECTURES[c.value] ?? c.value} (${megabytes(c.bytes)})`, c.value)),
  );
}

// ---- tagging and drawing -------------------------------------------------------------------

// Shown only for a text long enough to be tagged in several parts.
function showTagProgress(done, total) {
  const bar = $("tag-progress");
  bar.hidden = done >= total;
  bar.max = total;
  bar.value = done;
  bar.dataset.reports = Number(bar.dataset.reports ?? 0) + 1;
  if (done < total) setStatus(`Finding entities… ${Math.floor((100 * done) / total)} %`, "tagging");
}

async function tag() {
  const text = $("text").value;
  state.text = text;
  $("tag").disabled = true;
  setStatus("Finding entities…", "tagging");
  try {
    $("tag-progress").dataset.reports = 0;
    if (!state.tagger) throw new Error("no model is loaded yet");
    const started = performance.now();
    const entities = await state.tagger.tag(text, { onProgress: showTagProgress });
    const ms = performance.now() - started;
    state.entities = entities;
    draw();
    document.body.dataset.results = Number(document.body.dataset.results ?? 0) + 1;
    setStatus(`Found ${entities.length} entities in ${Math.round(ms)} ms.`, "ready");
  } catch (error) {
    $("tag-progress").hidden = true;
    // A restart after a crash says what happened itself.
    if (error.crashed) {
      await recover(error.reason);
      return;
    }
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

// What the note says about an entity, in words, with the cue that says so.
function assertionText(entity) {
  if (!entity.assertion || entity.assertion === "present") return "present";
  return entity.cue ? `${entity.assertion} (“${entity.cue.text}”)` : entity.assertion;
}

function describe(entity) {
  const type = TYPE_NAMES[entity.type] ?? entity.type;
  const asserted = entity.assertion && entity.assertion !== "present" ? `; ${assertionText(entity)}` : "";
  if (!entity.concept) return `${type}${asserted}; no SNOMED CT concept`;
  const c = entity.concept;
  const from = c.sources.length ? `; from ${c.sources.join("; ")}` : "";
  return `${type}${asserted}; SNOMED CT ${c.id} “${c.preferred}” (${c.stage} match, score ${c.score.toFixed(2)}${from})`;
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
    if (entity.assertion && entity.assertion !== "present") mark.classList.add(`a-${entity.assertion}`);
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
  // Hiding what the note does not assert as present hides it from the highlights and the
  // table; the exports keep every entity, with its assertion.
  state.visible = $("hide-asserted").checked
    ? state.entities.filter((e) => !e.assertion || e.assertion === "present")
    : state.entities;
  $("highlighted").replaceChildren(highlight(state.text, state.visible));
  // A table of tens of thousands of rows (a long text) would freeze the page for seconds while
  // it lays out; the highlights and the exports keep every entity.
  const shown = state.visible.slice(0, TABLE_ROWS);
  $("table-note").hidden = shown.length === state.visible.length;
  $("table-note").textContent = `The table shows the first ${shown.length.toLocaleString("en")} of ${state.visible.length.toLocaleString("en")} entities; the highlighted text and the exports have them all.`;
  $("table").tBodies[0].replaceChildren(
    ...shown.map((e) => {
      const row = document.createElement("tr");
      const cells = [
        TYPE_NAMES[e.type] ?? e.type, e.text, e.start, e.end, e.score.toFixed(3),
        e.concept?.id ?? "—", e.concept?.preferred ?? "", e.concept ? `${e.concept.stage} (${e.concept.score.toFixed(2)})` : "",
        e.concept?.sources.map(sourceName).join("; ") ?? "", assertionText(e),
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
  const entity = state.visible[Number(mark.dataset.index)];
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

// ---- wiring --------------------------------------------------------------------------------

async function main() {
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
  $("hide-asserted").onchange = () => {
    if (!$("results").hidden) draw();
  };
  $("export-brat").onclick = () => download(`${state.name}.ann`, "text/plain", bratAnn(state.text, state.entities));
  $("export-json").onclick = () => download(`${state.name}.json`, "application/json", entitiesJson(state.entities));
  $("export-csv").onclick = () => download(`${state.name}.csv`, "text/csv", entitiesCsv(state.entities));
  setUpBatch({ tagger: () => state.tagger, ready: () => !$("tag").disabled, labels: () => state.labels, typeName: (t) => TYPE_NAMES[t] ?? t, download, recover });
  restoreChoice();
  await loadModel();
  // Once the first model is in: the service worker's install then takes the wasm module from
  // the browser's HTTP cache instead of downloading it again beside the page.
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch((e) => console.warn("offline use unavailable:", e));
  }
}

main();
