// End-to-end test of the page (target/site, built by `./build.sh web`) in Debian's Chromium,
// driven by playwright-core: load, tag a real PharmaCoNER dev case, highlights and details,
// the three exports, 20 dev documents tagged as a batch and their ZIP export scored against
// the gold, a long text tagged in parts with a progress bar, the automatic backend keeping to the CPU on a software GPU (SwiftShader)
// and saying why, the module downloaded once on a first visit, WebGPU asked for by name giving the
// same entities, English, the choice of model kept over a reload, a reload that downloads
// neither the wasm module nor a model again, and one with the server gone (offline, from the
// caches), the user's own terminology imported, kept and removed, a crashed worker replaced,
// the tagged text in no request and no storage, the third-party notice, and files checked against
// manifest.json's SHA-256 (an altered cached copy replaced, an altered download refused). It
// fails on any request
// to another origin, and
// saves a screenshot to target/e2e/page.png (and the README's, docs/page.png). Prints
// time-to-first-tag figures as JSON.
//
//   node tests/e2e/page.mjs            (CHROMIUM=/usr/bin/chromium by default)

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { copyFile, readFile, readdir, mkdir, rm } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { extname, join, normalize, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const SITE = join(ROOT, "target/site");
const OUT = join(ROOT, "target/e2e");
const CASE = join(ROOT, "../shared/data/pharmaconer/dev/subtrack1/S0212-71992006000600007-1");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm" };

// A static server for target/site that can be stopped, to test offline use, and that serves
// the files in `tampered` with one byte changed, as an altered download would be.
const tampered = new Set();
const CRASH_MARKER = "[test: trap]";
const CRASH_HOOK = `
globalThis.clinitagTestHook = async (data) => {
  if (data.type !== "tag" || !data.text.startsWith(${JSON.stringify(CRASH_MARKER)})) return;
  // A module whose one function is \`unreachable\`: a real WebAssembly.RuntimeError.
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0,
    7, 5, 1, 1, 102, 0, 0, 10, 5, 1, 3, 0, 0, 11]);
  const { instance } = await WebAssembly.instantiate(bytes);
  instance.exports.f();
};
`;
const sent = [];
function serve() {
  const requests = [];
  // The paths whose whole body was sent (not answered by 304).
  const bodies = [];
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, "http://x").pathname);
    requests.push(path);
    // Every request whole, for the privacy check: its URL and whatever body it carries.
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    sent.push({ url: request.url, body: Buffer.concat(chunks) });
    const file = normalize(join(SITE, path.endsWith("/") ? `${path}index.html` : path));
    try {
      if (!file.startsWith(SITE)) throw new Error("outside the site");
      let body = await readFile(file);
      if (tampered.has(path)) body[body.length >> 1] ^= 0x20;
      // The test build's hook (the package's worker.js calls it if defined): a text that begins with the
      // marker makes the wasm instance trap, as a panic or exhausted memory would.
      if (path === "/pkg/worker.js") body = Buffer.concat([body, Buffer.from(CRASH_HOOK)]);
      // Validators, as a typical static host sends them: a browser may keep a copy and ask
      // again whether it is current (304) instead of downloading it.
      const etag = `"${createHash("sha1").update(body).digest("hex")}"`;
      if (request.headers["if-none-match"] === etag) {
        response.writeHead(304, { etag, "cache-control": "no-cache" }).end();
        return;
      }
      bodies.push(path);
      response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": body.length,
        etag, "cache-control": "no-cache" });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok({ server, requests, bodies, port: server.address().port })));
}

const { server, requests, bodies, port } = await serve();
const origin = `http://127.0.0.1:${port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--enable-unsafe-webgpu", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic"],
});
const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 1400 } });
const foreign = [];
context.on("request", (request) => {
  const url = request.url();
  if (!url.startsWith(origin) && !url.startsWith("blob:") && !url.startsWith("data:")) foreign.push(url);
});
const page = await context.newPage();
const problems = [];
page.on("pageerror", (error) => problems.push(error.message));
const figures = {};

// Waits until the page is idle (<body data-state="ready">), failing on its error message.
async function waitReady() {
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null, { timeout: 300_000 });
  const status = await page.textContent("#status");
  assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", status);
  return status;
}

// The table's rows once the page has drawn results beyond the `before`-th.
async function results(before) {
  await page.waitForFunction((n) => Number(document.body.dataset.results ?? 0) > n, before, { timeout: 300_000 });
  await waitReady();
  return page.evaluate(() => [...document.querySelectorAll("#table tbody tr")].map((row) =>
    [...row.cells].map((cell) => cell.textContent)));
}

const drawn = () => page.evaluate(() => Number(document.body.dataset.results ?? 0));

async function tagText(text) {
  const before = await drawn();
  await page.fill("#text", text);
  await page.click("#tag");
  return results(before);
}

async function saved(download) {
  return readFile(await download.path(), "utf8");
}

// The RF2 fixture as a release zip, laid out as SNOMED International's are (Python's zipfile,
// which CI has, since Node has no zip writer).
async function releaseZip() {
  const root = join(OUT, "release");
  const terminology = join(root, "SnomedCT_TEST/Snapshot/Terminology");
  const language = join(root, "SnomedCT_TEST/Snapshot/Refset/Language");
  await mkdir(terminology, { recursive: true });
  await mkdir(language, { recursive: true });
  const fixtures = join(ROOT, "tests/fixtures/rf2");
  await copyFile(join(fixtures, "sct2_Description_Snapshot-es_TEST.txt"), join(terminology, "sct2_Description_Snapshot-es_TEST.txt"));
  await copyFile(join(fixtures, "der2_cRefset_LanguageSnapshot-es_TEST.txt"), join(language, "der2_cRefset_LanguageSnapshot-es_TEST.txt"));
  const zip = join(OUT, "release-es-test.zip");
  execFileSync("python3", ["-m", "zipfile", "-c", zip, "SnomedCT_TEST"], { cwd: root });
  return zip;
}

const text = await readFile(`${CASE}.txt`, "utf8");
const goldLines = (await readFile(`${CASE}.ann`, "utf8")).split("\n").filter((l) => l.startsWith("T"));
const gold = goldLines.length;
// "start end" of each gold mention (the case is all in the BMP: UTF-16 offsets = BRAT's).
const goldSpans = new Set(goldLines.map((l) => l.split("\t")[1].split(" ").slice(1).join(" ")));

// 1. First visit: empty caches; automatic backend. This Chromium's only WebGPU adapter is
// SwiftShader, a software GPU far slower than the CPU, so "auto" keeps to the CPU and says why
// in plain words, with the adapter's own description one click away.
let started = Date.now();
await page.goto(origin);
const firstStatus = await waitReady();
const rows = await tagText(text);
figures.firstTagColdMs = Date.now() - started;
figures.coldBackend = await page.evaluate(() => document.body.dataset.backend);
assert.equal(figures.coldBackend, "cpu", "auto must not take a software adapter");
// The CPU's module only, in its relaxed SIMD build, which this Chromium runs (so that this test
// covers the 8-bit products on relaxed SIMD against the command line's below): the plain
// one is for browsers without relaxed SIMD, the one that can use WebGPU is fetched when a GPU
// is to be used.
const relaxedSimd = await page.evaluate(async () => (await import("/pkg/relaxed-simd.js")).relaxedSimd);
assert.equal(relaxedSimd, true, "Chromium has relaxed SIMD");
assert.ok(requests.includes("/pkg/relaxed/clinitag_bg.wasm"), "the CPU module for relaxed SIMD");
assert.ok(!requests.includes("/pkg/clinitag_bg.wasm"), "not the one without it");
assert.ok(!requests.includes("/pkg/webgpu/clinitag_bg.wasm"), "no WebGPU module for the CPU");
// The service worker, registered once the model is in, caches the module from the browser's
// copy: a first visit downloads it once.
await page.evaluate(() => navigator.serviceWorker.ready);
assert.deepEqual(bodies.filter((path) => path.endsWith(".wasm")), ["/pkg/relaxed/clinitag_bg.wasm"], "the module downloaded once");
assert.equal(await page.isVisible("#backend-detail"), true);
assert.match(await page.textContent("#backend-reason"), /processor because the only graphics adapter is a software one/);
await page.click("#backend-detail summary");
assert.match(await page.textContent("#backend-technical"), /GPUAdapterInfo: .*(swiftshader|isFallbackAdapter true)/i);
assert.ok(rows.length >= gold * 0.8 && rows.length <= gold * 1.2, `${rows.length} entities, gold has ${gold}`);
for (const [, mention, start, end] of rows) assert.equal(text.slice(Number(start), Number(end)), mention);
const marks = await page.$$eval("#highlighted mark", (nodes) => nodes.map((n) => n.textContent));
assert.ok(marks.length >= rows.length * 0.9, `${marks.length} highlights for ${rows.length} entities`);
assert.equal(await page.textContent("#highlighted"), text, "the highlighted text is the input, character for character");
const legend = await page.$$eval("#legend li", (nodes) => nodes.map((n) => n.textContent));
assert.ok(legend.some((l) => l.startsWith("Drug or chemical")), legend.join());

// Details of a mention, by keyboard.
const withConcept = rows.findIndex((row) => /^\d+$/.test(row[5]));
assert.ok(withConcept >= 0, "some mention has a SNOMED CT concept");
await page.focus(`#highlighted mark[data-index="${withConcept}"]`);
await page.keyboard.press("Enter");
assert.match(await page.textContent("#details"), new RegExp(`SNOMED CT ${rows[withConcept][5]}`));

// Exports.
const [brat] = await Promise.all([page.waitForEvent("download"), page.click("#export-brat")]);
const ann = await saved(brat);
const chars = [...text];
const tLines = ann.split("\n").filter((l) => l.startsWith("T"));
assert.equal(tLines.length, rows.length);
for (const line of tLines) {
  const [, span, mention] = line.split("\t");
  const [, start, end] = span.split(" ");
  assert.equal(chars.slice(Number(start), Number(end)).join(""), mention, line);
}
assert.ok(ann.includes("AnnotatorNotes"));
const [json] = await Promise.all([page.waitForEvent("download"), page.click("#export-json")]);
const exported = JSON.parse(await saved(json));
assert.equal(exported.offsets, "utf16");
assert.equal(exported.entities.length, rows.length);
const [csv] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
const csvLines = (await saved(csv)).trimEnd().split("\r\n");
assert.equal(csvLines.length, rows.length + 1);
assert.match(csvLines[0], /^type,start,end,text,score,snomed_ct_id/);
// Assertions: each row says one; the BRAT export marks every row that is not present, and
// hiding those leaves the present ones in the table.
for (const row of rows) assert.match(row[9], /^(present|negated|possible|hypothetical|family|historical)\b/, row.join());
const notPresent = rows.filter((row) => !row[9].startsWith("present")).length;
assert.equal(ann.split("\n").filter((l) => l.startsWith("A")).length, notPresent);
assert.match(csvLines[0], /,assertion,cue$/);
await page.check("#hide-asserted");
assert.equal((await page.$$("#table tbody tr")).length, rows.length - notPresent);
await page.uncheck("#hide-asserted");
assert.equal((await page.$$("#table tbody tr")).length, rows.length);

await mkdir(OUT, { recursive: true });
await page.click(`#highlighted mark[data-index="${withConcept}"]`);
await page.screenshot({ path: join(OUT, "page.png"), fullPage: true });
// The README's picture of the page from its top, as a visitor first sees it, the case tagged;
// made anew by each run.
await mkdir(join(ROOT, "docs"), { recursive: true });
await page.evaluate(() => window.scrollTo(0, 0));
await page.screenshot({ path: join(ROOT, "docs/page.png") });

// The same text again, warm.
started = Date.now();
await tagText(text);
figures.tagCpuWarmMs = Date.now() - started;

// 1c. Many files: 20 dev documents picked together, tagged one after the other with a bar per
// file while the page keeps answering clicks, and the ZIP export (BRAT .ann, PharmaCoNER .tsv,
// JSON, the texts) scored by `clinitag eval` against the gold: the same scores as the command
// line's own predictions on those 20 documents.
{
  const dev = join(ROOT, "../shared/data/pharmaconer/dev");
  const ids = (await readdir(join(dev, "subtrack1"))).filter((f) => f.endsWith(".txt")).sort().slice(0, 20).map((f) => f.slice(0, -4));
  const work = join(OUT, "batch");
  await rm(work, { recursive: true, force: true });
  for (const sub of ["gold/subtrack1", "gold/subtrack2", "page"]) await mkdir(join(work, sub), { recursive: true });
  for (const id of ids) {
    for (const ext of ["txt", "ann"]) await copyFile(join(dev, "subtrack1", `${id}.${ext}`), join(work, "gold/subtrack1", `${id}.${ext}`));
    await copyFile(join(dev, "subtrack2", `${id}.tsv`), join(work, "gold/subtrack2", `${id}.tsv`));
  }
  const batchStarted = Date.now();
  await page.setInputFiles("#batch-files", ids.map((id) => join(dev, "subtrack1", `${id}.txt`)));
  // Each probe: a real click (through the browser's input pipeline) on the batch's status
  // line, timed from the event's creation to its handler.
  const delays = [];
  while ((await page.evaluate(() => document.body.dataset.batch)) !== "done") {
    const handled = page.evaluate(() => new Promise((ok) => document.querySelector("#batch-status")
      .addEventListener("click", (event) => ok(performance.now() - event.timeStamp), { once: true })));
    await page.click("#batch-status");
    delays.push(await handled);
  }
  figures.batchMs = Date.now() - batchStarted;
  figures.batchClicks = delays.length;
  figures.batchLongestClickMs = Math.round(Math.max(...delays));
  assert.ok(delays.length >= 3, `${delays.length} clicks during the batch`);
  assert.ok(figures.batchLongestClickMs < 100, `a click waited ${figures.batchLongestClickMs} ms`);
  assert.match(await page.textContent("#batch-status"), /^Tagged 20 of 20 files in/);
  const bars = await page.$$eval("#batch-table progress", (nodes) => nodes.map((n) => n.value / n.max));
  assert.deepEqual(bars, Array(20).fill(1), "every file's bar full");
  const [zip] = await Promise.all([page.waitForEvent("download"), page.click("#batch-export")]);
  await zip.saveAs(join(work, "results.zip"));
  execFileSync("python3", ["-m", "zipfile", "-e", join(work, "results.zip"), join(work, "page")]);
  const exported = await readdir(join(work, "page"));
  assert.equal(exported.length, 80, "a .txt, .ann, .tsv and .json per file");
  execFileSync("cargo", ["build", "--profile", "ci", "--bin", "clinitag", "--quiet"], { cwd: ROOT, stdio: "inherit" });
  const cli = join(ROOT, "target/ci/clinitag");
  execFileSync(cli, ["tag", "--model", join(ROOT, "models/bilstm-crf-es.clinitag"), "--index", join(ROOT, "models/snomed-es.idx"),
    join(work, "gold/subtrack1"), "-o", join(work, "cli")], { stdio: "ignore" });
  const scores = (predicted) => JSON.parse(execFileSync(cli, ["eval", join(work, "gold"), predicted, "--json"], { encoding: "utf8" }))
    .map((report) => [report.title, report.overall]);
  const fromPage = scores(join(work, "page"));
  assert.deepEqual(fromPage, scores(join(work, "cli")), "the page's ZIP scores as the command line's output");
  const [ner, concepts] = fromPage.map(([, o]) => (2 * o.tp) / (2 * o.tp + o.fp + o.fn_));
  figures.batchNerF1 = Number(ner.toFixed(4));
  figures.batchConceptF1 = Number(concepts.toFixed(4));
  assert.ok(ner > 0.7 && concepts > 0.7, JSON.stringify(fromPage));
}

// 1b. A text longer than one part (20,000 UTF-16 units) is tagged in parts, with a progress
// bar, and gives each copy of the case its entities at its own offsets.
const copies = 8;
const longText = Array(copies).fill(text).join("");
started = Date.now();
const longRows = await tagText(longText);
figures.longTextChars = longText.length;
figures.longTextMs = Date.now() - started;
figures.longTextParts = await page.evaluate(() => Number(document.querySelector("#tag-progress").dataset.reports));
assert.ok(figures.longTextParts >= 2, `${figures.longTextParts} progress reports`);
assert.equal(await page.isVisible("#tag-progress"), false, "the bar is gone when done");
assert.equal(longRows.length, copies * rows.length);
longRows.forEach((row, i) => {
  const first = rows[i % rows.length];
  const shift = Math.floor(i / rows.length) * text.length;
  assert.deepEqual([row[0], row[1], Number(row[2]), Number(row[3])], [first[0], first[1], Number(first[2]) + shift, Number(first[3]) + shift]);
});
// The case again, which the steps below re-tag on each change of model or backend.
await tagText(text);

// 2. WebGPU asked for by name takes even the software adapter, and gives the same entities:
// the page re-tags the text once loaded.
let before = await drawn();
started = Date.now();
await page.selectOption("#backend", "webgpu");
const gpuRows = await results(before);
figures.firstTagWebgpuCachedMs = Date.now() - started;
assert.equal(await page.evaluate(() => document.body.dataset.backend), "webgpu");
assert.equal(await page.isVisible("#backend-detail"), false, "no fallback to explain");
assert.ok(requests.includes("/pkg/webgpu/clinitag_bg.wasm"), "WebGPU by name fetches the module that has it");
assert.deepEqual(gpuRows.map((r) => r.slice(0, 4)), rows.map((r) => r.slice(0, 4)));
started = Date.now();
await tagText(text);
figures.tagWebgpuWarmMs = Date.now() - started;
before = await drawn();
await page.selectOption("#backend", "cpu");
await results(before);
assert.equal(await page.evaluate(() => document.body.dataset.backend), "cpu");

// 2b. BERT on the CPU: the page loads the 45 MB model on demand and re-tags with it, on exact
// offsets, finding most gold mentions (exact boundaries); WebGPU gives the same entities.
before = await drawn();
started = Date.now();
await page.selectOption("#model", "bert");
const bertRows = await results(before);
figures.bertFirstTagCpuMs = Date.now() - started;
assert.equal(await page.evaluate(() => document.body.dataset.backend), "cpu");
for (const [, mention, start, end] of bertRows) assert.equal(text.slice(Number(start), Number(end)), mention);
const bertHits = bertRows.filter(([, , start, end]) => goldSpans.has(`${start} ${end}`)).length;
figures.bertGoldRecall = bertHits / gold;
figures.bertPrecision = bertHits / bertRows.length;
assert.ok(bertHits >= gold * 0.7, `BERT found ${bertHits} of ${gold} gold mentions`);
started = Date.now();
await tagText(text);
figures.bertTagCpuWarmMs = Date.now() - started;
// WebGPU here is SwiftShader, a software GPU that needs over five minutes for BERT over the
// whole case, so the parity check uses one sentence.
const sentence = "Se inició tratamiento con paracetamol y ácido fólico; la PCR y la ferritina fueron normales.";
const bertCpuSentence = await tagText(sentence);
assert.ok(bertCpuSentence.length >= 2, bertCpuSentence.join("|"));
before = await drawn();
started = Date.now();
await page.selectOption("#backend", "webgpu");
const bertGpuSentence = await results(before);
figures.bertFirstSentenceWebgpuMs = Date.now() - started;
assert.equal(await page.evaluate(() => document.body.dataset.backend), "webgpu");
assert.deepEqual(bertGpuSentence.map((r) => r.slice(0, 4)), bertCpuSentence.map((r) => r.slice(0, 4)));
// 2c. Both models as an ensemble on the CPU (the list offers it where a language has both):
// on the whole case, the same entities as `clinitag tag -m bilstm-crf-es -m bert-es`.
before = await drawn();
await page.selectOption("#backend", "cpu");
await results(before);
before = await drawn();
started = Date.now();
await page.selectOption("#model", "ensemble");
await results(before);
figures.ensembleLoadMs = Date.now() - started;
started = Date.now();
const ensembleRows = await tagText(text);
figures.ensembleTagCpuMs = Date.now() - started;
execFileSync("cargo", ["build", "--profile", "ci", "--bin", "clinitag", "--quiet"], { cwd: ROOT, stdio: "inherit" });
const fromCli = JSON.parse(execFileSync(join(ROOT, "target/ci/clinitag"), ["tag", "--no-index", "--offsets", "utf16",
  "--model", join(ROOT, "models/bilstm-crf-es.clinitag"), "--model", join(ROOT, "models/bert-es.clinitag"), `${CASE}.txt`],
  { encoding: "utf8" }));
assert.deepEqual(
  ensembleRows.map(([, mention, start, end]) => [mention, Number(start), Number(end)]),
  fromCli.entities.map((e) => [e.text, e.start, e.end]),
  "the page's ensemble finds what the command line's does",
);
figures.ensembleGoldRecall = ensembleRows.filter(([, , start, end]) => goldSpans.has(`${start} ${end}`)).length / gold;

// Back to the Bi-LSTM-CRF on the CPU for the steps below; each change reloads and re-tags.
before = await drawn();
await page.selectOption("#model", "bilstm-crf");
await results(before);

// 3. English.
await page.selectOption("#language", "en");
await waitReady();
const beforeExample = await drawn();
await page.click("#example");
await results(beforeExample);
const english = await page.$$eval("#table tbody tr", (trs) => trs.map((tr) => tr.cells[1].textContent));
assert.ok(english.includes("Cisplatin") && english.includes("magnesium sulfate"), english.join("|"));
// The choice is kept: a reload opens on English and its model, and tags as before.
const englishRows = await page.$$eval("#table tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
await page.reload();
await waitReady();
assert.equal(await page.inputValue("#language"), "en", "the language is kept over a reload");
assert.equal(await page.inputValue("#model"), "bilstm-crf");
assert.equal(await page.inputValue("#backend"), "cpu", "the backend is kept too");
const beforeAgain = await drawn();
await page.click("#example");
await results(beforeAgain);
const englishAgain = await page.$$eval("#table tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
assert.deepEqual(englishAgain, englishRows, "the English model tags after the reload");

// Reloads the page and tags the case again: the same entities as on the first visit. Returns
// the time from the reload to the drawn entities.
async function revisit() {
  const started = Date.now();
  await page.reload();
  await waitReady();
  const again = await tagText(text);
  assert.deepEqual(again.map((r) => r.slice(0, 4)), rows.map((r) => r.slice(0, 4)));
  return Date.now() - started;
}

// 4. Second visit, the server up: the wasm module comes from the service worker's cache and
// the model and index from the worker's, since manifest.json names the same hashes.
await page.selectOption("#language", "es");
await waitReady();
const seen = requests.length;
figures.firstTagCachedVisitMs = await revisit();
const downloadedAgain = requests.slice(seen).filter((path) => path.endsWith(".wasm") || path.includes("/models/"));
assert.deepEqual(downloadedAgain, [], "downloaded again on a cached visit");

// 4b. The user's own terminology: a FHIR CodeSystem and an RF2 release zip, picked together,
// built into the index in the worker, kept for later visits, shown with each concept's
// source, and removed again. The brands in the sentence are in neither the bundled index nor
// any other fixture.
const brands = "Se pautó Gelocatil y Nolotil por el dolor.";
const concepts = (rows) => Object.fromEntries(rows.map((r) => [r[1], r[5]]));
const sources = (rows) => Object.fromEntries(rows.map((r) => [r[1], r[8]]));
let brandRows = await tagText(brands);
assert.deepEqual(concepts(brandRows), { Gelocatil: "—", Nolotil: "—" }, brandRows.join("|"));
assert.equal(await page.evaluate(() => document.body.dataset.terminology), "bundled");
assert.match(await page.textContent("#terminology-sources"), /SNOMED CT International Global Patient Set|Global Patient Set/);
const release = await releaseZip();
before = await drawn();
started = Date.now();
await page.setInputFiles("#terminology-file", [join(ROOT, "tests/fixtures/fhir/CodeSystem-es-test.json"), release]);
brandRows = await results(before);
figures.terminologyImportMs = Date.now() - started;
assert.equal(await page.evaluate(() => document.body.dataset.terminology), "user");
assert.deepEqual(concepts(brandRows), { Gelocatil: "387517004", Nolotil: "22165008" }, brandRows.join("|"));
assert.match(sources(brandRows).Gelocatil, /Fármacos de prueba/);
assert.match(sources(brandRows).Nolotil, /release-es-test\.zip/);
assert.match(await page.textContent("#terminology-status"), /Your terminology is in use/);
// Kept: a reload uses it again, without asking.
await page.reload();
await waitReady();
assert.equal(await page.evaluate(() => document.body.dataset.terminology), "user");
assert.deepEqual(concepts(await tagText(brands)), { Gelocatil: "387517004", Nolotil: "22165008" });
// A file that is no terminology is refused by name, and the one in use stays.
before = await drawn();
await page.setInputFiles("#terminology-file", { name: "notes.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.7") });
await page.waitForFunction(() => document.body.dataset.state === "error", null, { timeout: 60_000 });
assert.match(await page.textContent("#status"), /notes\.pdf: neither a SNOMED CT RF2 release/);
assert.equal(await page.evaluate(() => document.body.dataset.terminology), "user");
// Removed: back to the bundled index.
before = await drawn();
await page.click("#terminology-remove");
brandRows = await results(before);
assert.equal(await page.evaluate(() => document.body.dataset.terminology), "bundled");
assert.deepEqual(concepts(brandRows), { Gelocatil: "—", Nolotil: "—" });

// 4c. The page survives a crashed worker: it says so, keeps the text, starts a new worker
// with the same model, and the next tag gives the same entities.
const trapped = `${CRASH_MARKER} ${text}`;
await page.fill("#text", trapped);
await page.click("#tag");
await page.waitForFunction(() => Number(document.body.dataset.restarts ?? 0) === 1, null, { timeout: 60_000 });
await page.waitForFunction(() => /was restarted/.test(document.querySelector("#status").textContent), null, { timeout: 120_000 });
assert.match(await page.textContent("#status"), /The tagger stopped unexpectedly \(.*unreachable.*\) and was restarted\. Your text is still here/);
assert.equal(await page.inputValue("#text"), trapped, "the user's text is kept");
assert.equal(await page.evaluate(() => document.body.dataset.state), "ready");
assert.deepEqual((await tagText(text)).map((r) => r.slice(0, 4)), rows.map((r) => r.slice(0, 4)));

// 4d. Verified files. A cached copy that no longer matches manifest.json's SHA-256 is dropped
// and downloaded again; a download that does not match is refused, not cached, and not used.
const modelKey = (file) => page.evaluate(async (file) => {
  const cache = await caches.open("clinitag-models-v1");
  return (await cache.keys()).map((r) => new URL(r.url)).find((u) => u.pathname.endsWith(`/${file}`))?.href ?? null;
}, file);
const cachedModel = await modelKey("models/bilstm-crf-es.clinitag");
assert.ok(cachedModel, "the Spanish model is cached");
await page.evaluate(async (key) => {
  const cache = await caches.open("clinitag-models-v1");
  const bytes = new Uint8Array(await (await cache.match(key)).arrayBuffer());
  bytes[bytes.length >> 1] ^= 0x20;
  await cache.put(key, new Response(bytes));
}, cachedModel);
let seenBefore = requests.length;
await revisit();
assert.ok(requests.slice(seenBefore).includes("/models/bilstm-crf-es.clinitag"), "the altered cached copy is downloaded again");
tampered.add("/models/dictionary-es.json");
seenBefore = requests.length;
await page.selectOption("#model", "dictionary");
await page.waitForFunction(() => document.body.dataset.state === "error", null, { timeout: 60_000 });
assert.ok(requests.slice(seenBefore).includes("/models/dictionary-es.json"));
assert.match(await page.textContent("#status"), /dictionary-es\.json is not the file this page lists \(its SHA-256 differs\), so it was not used/);
assert.equal(await modelKey("models/dictionary-es.json"), null, "a refused file is not cached");
tampered.clear();
// The tagger in use was never touched: the page keeps it, shows it in the list, and tags with it.
assert.match(await page.textContent("#status"), /tell whoever runs this page\. Still using the Bi-LSTM-CRF\./);
assert.equal(await page.inputValue("#model"), "bilstm-crf", "the list shows the model in use again");
assert.equal(await page.isDisabled("#tag"), false, "the model in use still tags");
before = await drawn();
await page.click("#tag");
const stillTagged = await results(before);
assert.ok(stillTagged.length > 0, "the kept model finds entities");

// 5. Third visit with the server gone: everything comes from the caches.
server.close();
server.closeAllConnections();
figures.firstTagOfflineMs = await revisit();

// The third-party notice, linked from About, offline too: the crates inside the module with
// their licences, and the data's attributions.
await page.click("#about summary");
const notice = await page.evaluate(async () => (await fetch(document.querySelector("#third-party").href)).text());
for (const expected of [/^burn 0\.22\.\d+: /m, /^wasm-bindgen 0\.2\.\d+: /m, /^buildid [\d.]+: MPL-2\.0/m, /SNOMED International/, /CC BY 4\.0/, /Permission is hereby granted/]) {
  assert.match(notice, expected);
}

// Privacy: the texts tagged above never left the page, not even to its own origin, and no
// storage holds them: Cache Storage has only the site, models and indexes, localStorage
// and sessionStorage only settings, and there is no IndexedDB.
const secrets = [text.slice(0, 60), text.slice(1000, 1060), sentence.slice(0, 40), brands];
const leaks = (bytes) => secrets.filter((secret) => {
  const utf8 = Buffer.from(secret), utf16 = Buffer.from(secret, "utf16le");
  return bytes.includes(utf8) || bytes.includes(utf16) || bytes.includes(Buffer.from(encodeURIComponent(secret)));
});
for (const { url, body } of sent) {
  assert.deepEqual(leaks(Buffer.concat([Buffer.from(decodeURIComponent(url)), Buffer.from(url), body])), [], `request ${url}`);
}
assert.equal(leaks(Buffer.from(`${text}${sentence}${brands}`)).length, secrets.length, "the search finds what is there");
// Searched inside the page: the caches hold some 90 MB. Bytes and needles are both read as
// windows-1252, one character a byte, so that String.includes does the byte search.
const needles = secrets.flatMap((secret) => [Buffer.from(secret), Buffer.from(secret, "utf16le")]).map((b) => [...b]);
const stored = await page.evaluate(async (needles) => {
  const latin = new TextDecoder("windows-1252");
  const patterns = needles.map((bytes) => latin.decode(new Uint8Array(bytes)));
  const found = [];
  const check = (where, bytes) => {
    const haystack = latin.decode(bytes);
    found.push({ where, leaks: patterns.filter((p) => haystack.includes(p)).length });
  };
  // A control: the search must find each needle where it is.
  check("control", new Uint8Array(needles.flat()));
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      check(`${name} ${request.url}`, new Uint8Array(await (await cache.match(request)).arrayBuffer()));
    }
  }
  const entries = (storage) => Object.keys(storage).map((key) => `${key}=${storage.getItem(key)}`).join("\n");
  check("localStorage", new TextEncoder().encode(entries(localStorage)));
  check("sessionStorage", new TextEncoder().encode(entries(sessionStorage)));
  return { found, databases: (await indexedDB.databases()).map((d) => d.name) };
}, needles);
const control = stored.found.shift();
assert.equal(control.leaks, needles.length, "the search in the page finds what is there");
assert.ok(stored.found.length >= 5, stored.found.map((f) => f.where).join());
for (const { where, leaks } of stored.found) assert.equal(leaks, 0, `the text is stored in ${where}`);
figures.storageEntriesChecked = stored.found.length;
figures.requestsChecked = sent.length;
assert.deepEqual(stored.databases, [], "IndexedDB databases");

assert.deepEqual(foreign, [], "requests to other origins");
assert.deepEqual(problems, [], "page errors");
figures.firstStatus = firstStatus;
figures.requests = requests.length;
console.log(JSON.stringify(figures));
console.log(`page end-to-end: ok (screenshot: ${join(OUT, "page.png")})`);
await browser.close();
