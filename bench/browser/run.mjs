// Browser benchmarks in Debian's Chromium, driven by playwright-core (bench/peers.sh runs it
// after building everything it serves):
//
//   node bench/browser/run.mjs [--documents 20] [--gpu-documents 2] [--skip-page-load] [--profile]
//                              [--long-text 1] [--batch 250] [--case-speed 20] [--precision f32,int8]
//
// 1. Throughput: the Spanish BERT over the first PharmaCoNER dev documents, clinitag (wasm
//    CPU and WebGPU) against Transformers.js (onnxruntime-web's WASM and WebGPU backends) on
//    the same weights, windows and batches (bench.js), at batch 1 and 32, in f32 and at 8 bits
//    (on WebGPU in f32 only: both compute there in f32); each run in a fresh
//    browser, with the tab's peak resident memory.
// 2. Page load of the demo (target/site): time from navigation to the first tagged case, cold
//    (empty caches) and cached (a reload), bytes the server sent, peak memory; in a browser
//    without WebGPU (the page falls back to the CPU) and with WebGPU (SwiftShader here).
// 3. --profile: where clinitag's wasm CPU time goes (V8's sampling profiler, self time).
// 4. --long-text MB: the demo page tags MB megabytes in parts; time, stalls, peak memory.
// 5. --batch N: the demo page tags N dev documents as a batch, and one by one as texts.
// 6. --case-speed N: each shipped Spanish model tags the page's dev case N times on the wasm CPU
//    path (case.html), timed from the call to `tag` to the entities, against the native CLI on
//    one core over the same case (CLINITAG: the binary, target/release/clinitag by default).
//
// Prints a JSON line per measurement and writes them all to target/bench/browser.json.

import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";

const ROOT = resolve(import.meta.dirname, "../..");
const HERE = import.meta.dirname;
const CASE = join(ROOT, "../shared/data/pharmaconer/dev/subtrack1/S0212-71992006000600007-1.txt");
const { values: options } = parseArgs({
  options: {
    documents: { type: "string", default: "20" },
    "gpu-documents": { type: "string", default: "2" },
    "skip-page-load": { type: "boolean", default: false },
    "skip-throughput": { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    "skip-webgpu": { type: "boolean", default: false },
    "skip-cpu": { type: "boolean", default: false },
    "skip-transformers": { type: "boolean", default: false },
    repeat: { type: "string", default: "1" },
    "long-text": { type: "string", default: "0" },
    batch: { type: "string", default: "0" },
    "case-speed": { type: "string", default: "0" },
    // The CPU throughput runs' precisions (bench.js): f32, int8 or both.
    precision: { type: "string", default: "f32,int8" },
  },
});

const ROUTES = [
  // CLINITAG_SITE: another build of the page, to compare builds.
  ["/site/", `${resolve(process.env.CLINITAG_SITE ?? join(ROOT, "target/site"))}/`],
  ["/ort/", join(HERE, "node_modules/onnxruntime-web/dist/")],
  ["/tjs/", join(HERE, "node_modules/@huggingface/transformers/dist/")],
  ["/models/bert-es/", join(ROOT, "target/bench/bert-es/")],
  ["/inputs.json", join(ROOT, "target/bench/bert-es/inputs.json")],
  ["/", `${HERE}/`],
];
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
  ".json": "application/json", ".wasm": "application/wasm" };

// A static server that counts the bytes it sends. Like a typical static host it sends
// validators (ETag, Last-Modified) and `no-cache`, so a browser revalidates (304, no body)
// rather than downloading again.
const served = { bytes: 0 };
const server = createServer(async (request, response) => {
  let path = decodeURIComponent(new URL(request.url, "http://x").pathname);
  if (path.endsWith("/")) path += path === "/" ? "bench.html" : "index.html";
  const [prefix, dir] = ROUTES.find(([p]) => path.startsWith(p));
  const file = normalize(dir + path.slice(prefix.length));
  try {
    if (!file.startsWith(normalize(dir))) throw new Error("outside");
    const info = await stat(file);
    const etag = `"${info.size.toString(16)}-${Math.round(info.mtimeMs).toString(16)}"`;
    const headers = { etag, "last-modified": info.mtime.toUTCString(), "cache-control": "no-cache" };
    if (request.headers["if-none-match"] === etag) {
      response.writeHead(304, headers).end();
      return;
    }
    const body = await readFile(file);
    response.writeHead(200, { ...headers, "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "content-length": body.length });
    response.end(body);
    served.bytes += body.length;
  } catch {
    response.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const origin = `http://127.0.0.1:${server.address().port}`;

const ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run", "--disable-quic"];

async function launch(webgpu) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: webgpu ? ["--enable-unsafe-webgpu", ...ARGS] : ARGS,
  });
}

// Peak resident memory (VmHWM) of Chromium's renderer processes (the tab, its worker and its
// wasm memory) and of its GPU process, in MB. Each measurement has a browser of its own.
async function peakMemory() {
  const peaks = { renderer: 0, gpu: 0 };
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      // Processes forked from the zygote rewrite their title: one string, spaces between.
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).replaceAll("\0", " ");
      if (!cmdline.includes("chrom")) continue;
      const kind = cmdline.includes(" --type=renderer") ? "renderer" : cmdline.includes(" --type=gpu-process") ? "gpu" : null;
      if (!kind) continue;
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peaks[kind] = Math.max(peaks[kind], Math.round(kb / 1024));
    } catch { /* the process ended */ }
  }
  return { rendererPeakMB: peaks.renderer, gpuProcessPeakMB: peaks.gpu };
}

const results = [];
function report(figure) {
  results.push(figure);
  console.log(JSON.stringify(figure));
}

async function throughput(runtime, settings, webgpu) {
  const browser = await launch(webgpu);
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => document.body?.dataset.ready === "yes", null, { timeout: 120_000 });
    const figure = await page.evaluate(([r, s]) => window.bench[r](s), [runtime, settings]);
    report({ measure: "throughput", ...figure, ...(await peakMemory()), errors });
  } catch (error) {
    report({ measure: "throughput", runtime, ...settings, error: error.message.split("\n")[0] });
  } finally {
    await browser.close();
  }
}

// Where the time of clinitag's wasm CPU tagging goes (after loading and warming up): V8's
// sampling profiler, as self time per function and as inclusive time of the parts of the
// pipeline, found by name on the call stacks (a part that calls itself counts once).
const PARTS = [
  ["text segmentation", /clinitag::text::/],
  ["tokenization (WordPiece)", /tokenizers::|WordPieces/],
  ["encoder (BERT forward)", /bert::network::Encoder.*forward/],
  ["  embeddings", /burn_nn::.*Embedding.*forward/],
  ["  linear layers (all)", /burn_nn::.*Linear.*forward/],
  ["  matrix multiplication (all)", /gemm|matmul/],
  ["  softmax", /softmax/],
  ["  GELU (flex's; the CPU's own is inlined into Layer::forward)", /gelu|erf/],
  ["  layer norm", /LayerNorm.*forward/],
  ["tag head and reading scores back", /into_data|TensorData|scatter/],
  ["CRF Viterbi and entities", /clinitag::decoding::/],
  ["memory allocation and copies", /malloc|__rdl_alloc|dlmalloc|memcpy|memmove|memset/],
];

function parts(profile, interval) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const name = (n) => n.callFrame.functionName;
  const inclusive = new Map();
  const total = (id) => {
    const node = nodes.get(id);
    const ms = node.hitCount * interval + (node.children ?? []).reduce((sum, c) => sum + total(c), 0);
    inclusive.set(id, ms);
    return ms;
  };
  const root = profile.nodes[0].id;
  const all = total(root);
  const sums = PARTS.map(() => 0);
  const walk = (id, inside) => {
    const node = nodes.get(id);
    const now = PARTS.map(([, pattern], i) => inside[i] || pattern.test(name(node)));
    PARTS.forEach(([, pattern], i) => {
      if (!inside[i] && now[i]) sums[i] += inclusive.get(id);
    });
    for (const child of node.children ?? []) walk(child, now);
  };
  walk(root, PARTS.map(() => false));
  const idle = [...nodes.values()].filter((n) => ["(idle)", "(program)", "(garbage collector)"].includes(name(n)))
    .reduce((sum, n) => sum + n.hitCount * interval, 0);
  return { busyMs: Math.round(all - idle), parts: PARTS.map(([part], i) => ({ part, ms: Math.round(sums[i]), share: +(sums[i] / (all - idle)).toFixed(3) })) };
}

async function profile(settings) {
  const browser = await launch(false);
  try {
    const page = await browser.newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 500 });
    await page.exposeFunction("startProfiler", () => cdp.send("Profiler.start"));
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => document.body?.dataset.ready === "yes");
    const figure = await page.evaluate((s) => window.bench.clinitag(s), settings);
    const { profile: samples } = await cdp.send("Profiler.stop");
    const interval = (samples.endTime - samples.startTime) / samples.samples.length / 1000;
    const self = new Map();
    for (const node of samples.nodes) {
      const name = node.callFrame.functionName || `(${node.callFrame.url.split("/").pop() || "anonymous"})`;
      self.set(name, (self.get(name) ?? 0) + node.hitCount * interval);
    }
    const { busyMs, parts: split } = parts(samples, interval);
    const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)
      .map(([name, ms]) => ({ name: name.replace(/::h[0-9a-f]{16}$/, ""), ms: Math.round(ms), share: +(ms / busyMs).toFixed(3) }));
    report({ measure: "profile", ...figure, busyMs, parts: split, top });
  } finally {
    await browser.close();
  }
}

// The demo page: navigation to the first drawn result for the case, then the same after a
// reload (models from Cache Storage, the rest revalidated), in one browser.
async function pageLoad(webgpu) {
  const text = await readFile(CASE, "utf8");
  const browser = await launch(webgpu);
  try {
    const page = await browser.newPage();
    const firstTag = async (navigate, what) => {
      served.bytes = 0;
      const started = Date.now();
      await navigate();
      await page.waitForFunction(() => document.body.dataset.state === "ready", null, { timeout: 600_000 });
      const loadedMs = Date.now() - started;
      await page.fill("#text", text);
      const before = await page.evaluate(() => Number(document.body.dataset.results ?? 0));
      await page.click("#tag");
      await page.waitForFunction((n) => Number(document.body.dataset.results ?? 0) > n, before, { timeout: 600_000 });
      const figure = {
        measure: "page load", what, webgpu, ms: Date.now() - started, readyMs: loadedMs,
        backend: await page.evaluate(() => document.body.dataset.backend),
        model: await page.inputValue("#model"), bytesServed: served.bytes, rows: await page.locator("#table tbody tr").count(),
      };
      report({ ...figure, ...(await peakMemory()) });
    };
    await firstTag(() => page.goto(`${origin}/site/`), "cold: empty caches");
    await firstTag(() => page.reload(), "cached: reload");
    // BERT over the whole case takes minutes on SwiftShader: only where the page uses the CPU.
    if (!webgpu) {
      await firstTag(async () => {
        await page.selectOption("#model", "bert");
      }, "switch to BERT (not cached)");
      // A clinician's cached visit with the transformer: the page opens on the model chosen
      // last, from the worker's cache.
      await firstTag(() => page.reload(), "cached: reload, BERT kept");
    }
  } finally {
    await browser.close();
  }
}

// Main-thread stalls of a page: the largest gap between ticks of a 10 ms timer, from
// `watchStalls` to `longestStall` (in ms).
function watchStalls(page) {
  return page.evaluate(() => {
    window.longestStallMs = 0;
    let last = performance.now();
    window.stallTimer = setInterval(() => {
      const now = performance.now();
      window.longestStallMs = Math.max(window.longestStallMs, now - last - 10);
      last = now;
    }, 10);
  });
}

function longestStall(page) {
  return page.evaluate(() => {
    clearInterval(window.stallTimer);
    return Math.round(window.longestStallMs);
  });
}

// The demo page tagging a long text (the case repeated to `megabytes` MB of UTF-16 code
// units) in parts, on the CPU: time from the click to the drawn table, the progress reports,
// the longest stall of the page's main thread meanwhile (a click waits that long at most), and
// the tab's peak memory, in a browser of its own.
async function longText(megabytes) {
  const text = await readFile(CASE, "utf8");
  const long = text.repeat(Math.ceil((megabytes * 1e6) / text.length));
  const browser = await launch(false);
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/site/`);
    await page.waitForFunction(() => document.body.dataset.state === "ready", null, { timeout: 600_000 });
    await page.fill("#text", long);
    await watchStalls(page);
    const before = await page.evaluate(() => Number(document.body.dataset.results ?? 0));
    const started = Date.now();
    await page.click("#tag");
    await page.waitForFunction((n) => Number(document.body.dataset.results ?? 0) > n, before, { timeout: 1_800_000, polling: 1000 });
    const ms = Date.now() - started;
    const after = await page.evaluate(() => ({
      status: document.querySelector("#status").textContent,
      progressReports: Number(document.querySelector("#tag-progress").dataset.reports),
      rows: document.querySelectorAll("#table tbody tr").length,
    }));
    after.longestStallMs = await longestStall(page);
    report({ measure: "long text", chars: long.length, ms, wordsPerSecond: Math.round(long.split(/\s+/).length / (ms / 1000)),
      ...after, ...(await peakMemory()) });
  } finally {
    await browser.close();
  }
}

// The demo page's batch of `count` dev documents (picked as files) against the single-text
// path over the same documents (each pasted, tagged and drawn, one after the other), in one
// browser: the time of each, their ratio, and the longest stall of the page's main thread
// during the batch (a click waits that long at most).
async function batch(count) {
  const dev = join(ROOT, "../shared/data/pharmaconer/dev/subtrack1");
  const files = (await readdir(dev)).filter((f) => f.endsWith(".txt")).sort().slice(0, count).map((f) => join(dev, f));
  const browser = await launch(false);
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/site/`);
    await page.waitForFunction(() => document.body.dataset.state === "ready", null, { timeout: 600_000 });
    // Warm: the first tag compiles and allocates.
    await page.fill("#text", await readFile(CASE, "utf8"));
    await page.click("#tag");
    await page.waitForFunction(() => Number(document.body.dataset.results ?? 0) > 0, null, { timeout: 600_000 });
    await watchStalls(page);
    let started = Date.now();
    await page.setInputFiles("#batch-files", files);
    await page.waitForFunction(() => document.body.dataset.batch === "done", null, { timeout: 3_600_000, polling: 500 });
    const batchMs = Date.now() - started;
    const stall = await longestStall(page);
    const status = await page.textContent("#batch-status");
    started = Date.now();
    for (const file of files) {
      const before = await page.evaluate(() => Number(document.body.dataset.results ?? 0));
      await page.fill("#text", await readFile(file, "utf8"));
      await page.click("#tag");
      await page.waitForFunction((n) => Number(document.body.dataset.results ?? 0) > n, before, { timeout: 600_000 });
    }
    const singleMs = Date.now() - started;
    report({ measure: "batch", documents: files.length, batchMs, singleTextMs: singleMs,
      batchOverSingle: Number((batchMs / singleMs).toFixed(3)), longestStallMs: stall, status, ...(await peakMemory()) });
  } finally {
    await browser.close();
  }
}

// Native tagging time of `model` on one core for the case alone: the CLI over `copies` copies
// of it, less the same command's time over an empty file (loading), divided by the copies.
async function nativeCaseMs(model, index, copies) {
  const binary = process.env.CLINITAG ?? join(ROOT, "target/release/clinitag");
  const dir = await mkdtemp(join(tmpdir(), "clinitag-case-"));
  try {
    const texts = join(dir, "texts");
    await mkdir(texts);
    for (let i = 0; i < copies; i++) await copyFile(CASE, join(texts, `case-${i}.txt`));
    await writeFile(join(dir, "empty.txt"), "");
    const seconds = (input) => {
      const started = process.hrtime.bigint();
      execFileSync("taskset", ["-c", "0", binary, "tag", "-m", join(ROOT, model), ...(index ? ["--index", join(ROOT, index)] : []),
        input, "-o", join(dir, `out-${Math.random()}`)], { env: { ...process.env, RAYON_NUM_THREADS: "1" }, stdio: "ignore" });
      return Number(process.hrtime.bigint() - started) / 1e9;
    };
    const load = Math.min(seconds(join(dir, "empty.txt")), seconds(join(dir, "empty.txt")));
    const all = Math.min(seconds(texts), seconds(texts));
    return ((all - load) * 1000) / copies;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function caseSpeed(runs) {
  const text = await readFile(CASE, "utf8");
  const words = text.split(/\s+/).filter(Boolean).length;
  const index = "models/snomed-es.idx";
  for (const [model, times] of [["models/bilstm-crf-es.clinitag", runs], ["models/bert-es.clinitag", Math.min(runs, 5)],
    ["models/dictionary-es.json", runs]]) {
    const browser = await launch(false);
    try {
      const page = await browser.newPage();
      await page.goto(`${origin}/case.html`);
      await page.waitForFunction(() => document.body?.dataset.ready === "yes", null, { timeout: 120_000 });
      const figure = await page.evaluate((settings) => window.caseSpeed(settings), { text, model, index, runs: times });
      const nativeMs = await nativeCaseMs(model, index, model.includes("bert") ? 3 : 20);
      report({ measure: "case speed", model, words, runs: times, ...figure, wordsPerSecond: Math.round((words * 1000) / figure.medianMs),
        nativeMs: +nativeMs.toFixed(1), nativeWordsPerSecond: Math.round((words * 1000) / nativeMs),
        wasmOverNative: +(figure.medianMs / nativeMs).toFixed(2), ...(await peakMemory()) });
    } catch (error) {
      report({ measure: "case speed", model, error: error.message.split("\n")[0] });
    } finally {
      await browser.close();
    }
  }
}

if (Number(options["case-speed"]) > 0) await caseSpeed(Number(options["case-speed"]));
if (Number(options["long-text"]) > 0) await longText(Number(options["long-text"]));
if (Number(options.batch) > 0) await batch(Number(options.batch));
const documents = Number(options.documents);
const gpuDocuments = Number(options["gpu-documents"]);
if (!options["skip-throughput"]) {
  for (let round = 0; round < (options["skip-cpu"] ? 0 : Number(options.repeat)); round++) {
    for (const precision of options.precision.split(",")) {
      for (const batch of ["1", "32"]) {
        await throughput("clinitag", { backend: "cpu", batch, precision, documents }, false);
        if (!options["skip-transformers"]) await throughput("transformers", { device: "wasm", batch, precision, documents }, false);
      }
    }
  }
  for (const batch of options["skip-webgpu"] ? [] : ["1", "32"]) {
    const settings = { batch, precision: "f32", documents: gpuDocuments };
    await throughput("clinitag", { backend: "webgpu", ...settings }, true);
    if (!options["skip-transformers"]) await throughput("transformers", { device: "webgpu", ...settings }, true);
  }
}
if (options.profile) await profile({ backend: "cpu", batch: "1", precision: "int8", documents });
if (!options["skip-page-load"]) {
  await pageLoad(false);
  await pageLoad(true);
}
server.close();
await mkdir(join(ROOT, "target/bench"), { recursive: true });
await writeFile(join(ROOT, "target/bench/browser.json"), JSON.stringify(results, null, 1));
