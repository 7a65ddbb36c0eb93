// The user's terminology built into an index in the browser, as the page's worker does it:
// the shipped Spanish index plus a large FHIR CodeSystem (bench/terminology.py), through the
// wasm module of target/site. Times reading the file's bytes into the importer, building the
// index, and loading a tagger with it, in Debian's Chromium.
//
//   node bench/browser/terminology.mjs FHIR.json      (bench/terminology.sh runs it)

import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const SITE = join(ROOT, "target/site");
const FHIR = resolve(process.argv[2]);
const TYPES = { ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };
const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import init, { IndexImport, Tagger, indexSummary } from "./pkg/clinitag.js";
await init();
const bytes = async (path) => new Uint8Array(await (await fetch(path)).arrayBuffer());
const [base, fhir, model] = await Promise.all([
  bytes("models/snomed-es.idx"), bytes("terminology.json"), bytes("models/bilstm-crf-es.clinitag"),
]);
let t = performance.now();
const importer = new IndexImport(base, undefined);
importer.addFile("terminology.json", fhir);
const readMs = performance.now() - t;
t = performance.now();
const index = importer.finish();
const buildMs = performance.now() - t;
importer.free();
t = performance.now();
const tagger = await Tagger.load(model, index, { backend: "cpu" });
const loadMs = performance.now() - t;
const summary = indexSummary(index);
window.result = { fhirBytes: fhir.length, indexBytes: index.length, concepts: summary.concepts, terms: summary.terms,
  readMs, buildMs, importMs: readMs + buildMs, taggerLoadMs: loadMs };
tagger.free();
</script>`;

const server = createServer(async (request, response) => {
  const path = decodeURIComponent(new URL(request.url, "http://x").pathname);
  try {
    if (path === "/") return response.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    const file = path === "/terminology.json" ? FHIR : normalize(join(SITE, path));
    if (file !== FHIR && !file.startsWith(SITE)) throw new Error("outside the site");
    const body = await readFile(file);
    response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
  } catch {
    response.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
await page.goto(`http://127.0.0.1:${server.address().port}/`);
await page.waitForFunction(() => window.result || null, null, { timeout: 300_000, polling: 500 }).catch(() => {});
const result = await page.evaluate(() => window.result);
await browser.close();
server.close();
if (!result) throw new Error(`no result: ${errors.join("; ")}`);
console.log(JSON.stringify(result));
