// The npm package as its users meet it: the tarball that `./build.sh package` makes
// (target/package/clinitag-*.tgz) installed into a fresh project, then
//  - in Node.js: `import { createTagger } from "clinitag"`, the Spanish model and index read
//    from disk, a PharmaCoNER dev case tagged;
//  - in headless Chromium (Debian's, driven by playwright-core from tests/e2e): the same
//    import through an import map in a page served by this test, the model and index loaded
//    from URLs in the package's Web Worker, the same case tagged;
// and both compared with the command-line tool's entities, offsets in UTF-16 code units (the
// case begins with an emoji, so they differ from characters). Also: a damaged model is
// refused with a message, a closed tagger refuses work, both Spanish models given as a list tag
// as the CLI's ensemble does (and a Spanish and an English one are refused), so do both English
// models with the weight the BERT's file gives it, Node.js builds and uses the user's
// terminology (the page test does in Chromium), an application's TypeScript type-checks
// against the package's types, and the tarball's size is printed.
//
//   node tests/package/test.mjs          (after ./build.sh package; CHROMIUM=/usr/bin/chromium)

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const CASE = join(ROOT, "../shared/data/pharmaconer/dev/subtrack1/S0212-71992006000600007-1.txt");
const MODEL = join(ROOT, "models/bilstm-crf-es.clinitag");
const BERT = join(ROOT, "models/bert-es.clinitag");
const ENGLISH = join(ROOT, "models/bilstm-crf-en.clinitag");
const ENGLISH_BERT = join(ROOT, "models/bert-en.clinitag");
const INDEX = join(ROOT, "models/snomed-es.idx");
const FHIR = join(ROOT, "tests/fixtures/fhir/CodeSystem-es-test.json");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".json": "application/json", ".wasm": "application/wasm" };

const packages = join(ROOT, "target/package");
const tarballs = (await readdir(packages).catch(() => [])).filter((f) => /^clinitag-.*\.tgz$/.test(f));
assert.equal(tarballs.length, 1, `expected one tarball in ${packages}: run ./build.sh package`);
const tarball = join(packages, tarballs[0]);
const figures = { tarballBytes: (await stat(tarball)).size };

// What the command-line tool finds in the case, offsets in UTF-16 code units.
const project = await mkdtemp(join(tmpdir(), "clinitag-package-"));
const text = `🙂 ${await readFile(CASE, "utf8")}`;
const textFile = join(project, "case.txt");
await writeFile(textFile, text);
execFileSync("cargo", ["build", "--profile", "ci", "--bin", "clinitag", "--quiet"], { cwd: ROOT, stdio: "inherit" });
const cli = JSON.parse(execFileSync(join(ROOT, "target/ci/clinitag"),
  ["tag", "--model", MODEL, "--index", INDEX, "--offsets", "utf16", "--format", "json", textFile], { encoding: "utf8" }));
// Every door gives the same fields: offsets, type, text, score, the whole concept match, the
// assertion and its cue. A concept's score is an f32 in Rust, printed short by the CLI and
// widened by JavaScript.
const shape = (e) => [e.start, e.end, e.type, e.text, e.concept && { ...e.concept, score: Math.fround(e.concept.score) },
  e.assertion, e.cue];
const expected = cli.entities.map(shape);
// And what it finds with both Spanish models as an ensemble.
const cliEnsemble = JSON.parse(execFileSync(join(ROOT, "target/ci/clinitag"),
  ["tag", "--model", MODEL, "--model", BERT, "--no-index", "--offsets", "utf16", "--format", "json", textFile], { encoding: "utf8" }));
assert.ok(expected.length > 20, `the CLI found ${expected.length} entities`);
// The English ensemble: its BERT's file weighs it twice the Bi-LSTM-CRF (chosen on dev), which
// the CLI and the package both take when no weights are given; equal weights tag otherwise.
const englishText = (await readFile(join(ROOT, "../shared/data/bc5cdr/devel.tsv"), "utf8"))
  .split(/\n\s*\n/).slice(0, 100)
  .map((sentence) => sentence.split("\n").map((line) => line.split("\t")[0]).join(" ")).join("\n");
const englishFile = join(project, "english.txt");
await writeFile(englishFile, englishText);
const englishEnsemble = (weights) => JSON.parse(execFileSync(join(ROOT, "target/ci/clinitag"),
  ["tag", "--lang", "en", "--model", ENGLISH, "--model", ENGLISH_BERT, ...weights, "--no-index", "--offsets", "utf16",
    "--format", "json", englishFile], { encoding: "utf8" })).entities.map((e) => [e.start, e.end, e.type, e.text]);
const cliEnglish = englishEnsemble([]);
assert.notDeepEqual(cliEnglish, englishEnsemble(["--weights", "1,1"]), "the file's weight changes what the ensemble finds");

function check(where, entities) {
  const found = entities.map(shape);
  assert.deepEqual(Object.keys(entities[0]).sort(), Object.keys(cli.entities[0]).sort(), `${where}: the fields differ from the CLI's`);
  assert.deepEqual(found, expected, `${where}: the entities differ from the CLI's`);
  for (const e of entities) assert.equal(text.slice(e.start, e.end), e.text, `${where}: offsets of ${e.text}`);
  const scores = cli.entities.map((e, i) => Math.abs(e.score - entities[i].score));
  assert.ok(Math.max(...scores) < 1e-4, `${where}: scores differ by ${Math.max(...scores)}`);
}

try {
  // A fresh project that installs the tarball, as `npm install clinitag` would.
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "uses-clinitag", private: true, type: "module" }));
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--silent", tarball], { cwd: project, stdio: "inherit" });

  // TypeScript: an application's use of the API type-checks against the package's types
  // (wasm-bindgen's declarations use Symbol.dispose, hence lib esnext).
  await writeFile(join(project, "use.ts"), `
    import { createTagger, type ClinitagTagger, type Entity, type IndexSummary } from "clinitag";
    const tagger: ClinitagTagger = await createTagger({ model: "/models/m.clinitag", index: new Uint8Array(8),
      backend: "auto", onProgress: (loaded: number, total: number) => console.log(loaded / total) });
    const entities: Entity[] = await tagger.tag("texto", { onProgress: (done, total) => console.log(done, total) });
    const summary: IndexSummary | null = tagger.index;
    console.log(entities[0]?.concept?.id, summary?.concepts, tagger.fallbackReason, tagger.backend === "webgpu");
    const bytes: Uint8Array = await tagger.buildIndex([{ name: "terms.json", bytes: new Uint8Array(1) }], { base: null });
    await tagger.useIndex(bytes);
    const same: ClinitagTagger = await tagger.load({ model: new Uint8Array(8), backend: "cpu" });
    same.close();
    // @ts-expect-error: a model is required.
    await createTagger({ index: null });
    await createTagger({ model: ["/models/a.clinitag", new Uint8Array(8)], weights: [1, 2] });
  `);
  execFileSync("node", [join(ROOT, "tests/e2e/node_modules/typescript/bin/tsc"), "--noEmit", "--strict", "--module", "nodenext",
    "--moduleResolution", "nodenext", "--target", "es2022", "--lib", "esnext,dom", "use.ts"], { cwd: project, stdio: "inherit" });

  // Node.js: the package's "node" entry, files read from disk.
  await writeFile(join(project, "node-check.mjs"), `
    import { createTagger } from "clinitag";
    import { readFile } from "node:fs/promises";
    const text = await readFile(${JSON.stringify(textFile)}, "utf8");
    const started = performance.now();
    const tagger = await createTagger({ model: ${JSON.stringify(MODEL)}, index: await readFile(${JSON.stringify(INDEX)}) });
    const loaded = performance.now();
    const entities = await tagger.tag(text);
    const tagged = performance.now();
    const damaged = await createTagger({ model: new Uint8Array(1000) }).then(() => "loaded", (e) => e.message);
    // Both Spanish models as an ensemble; a Spanish and an English model cannot be one.
    // Loaded in place of a single model; a damaged file then leaves the ensemble working.
    const both = await createTagger({ model: ${JSON.stringify(MODEL)} });
    await both.load({ model: [${JSON.stringify(MODEL)}, ${JSON.stringify(BERT)}] });
    const ensemble = { architecture: both.architecture, entities: await both.tag(text) };
    ensemble.failedLoad = await both.load({ model: new Uint8Array(1000) }).then(() => "loaded", (e) => e.message);
    ensemble.afterFailedLoad = [both.architecture, (await both.tag("Se pautó paracetamol.")).map((e) => e.text)];
    both.close();
    const mixed = await createTagger({ model: [${JSON.stringify(MODEL)}, ${JSON.stringify(ENGLISH)}] })
      .then(() => "loaded", (e) => e.message);
    const english = await createTagger({ model: [${JSON.stringify(ENGLISH)}, ${JSON.stringify(ENGLISH_BERT)}] });
    const englishEntities = await english.tag(await readFile(${JSON.stringify(englishFile)}, "utf8"));
    english.close();
    // The user's terminology: a FHIR CodeSystem on top of the shipped index names a brand.
    const brand = "Se pautó Gelocatil y Nolotil por el dolor.";
    const before = (await tagger.tag(brand)).map((e) => e.concept?.id ?? null);
    const fhir = { name: "CodeSystem-es-test.json", bytes: await readFile(${JSON.stringify(FHIR)}) };
    const mine = await tagger.buildIndex([fhir], { base: await readFile(${JSON.stringify(INDEX)}) });
    const summary = await tagger.useIndex(mine);
    const after = (await tagger.tag(brand)).map((e) => e.concept?.id ?? null);
    tagger.close();
    const closed = await tagger.tag("paracetamol").then(() => "tagged", (e) => e.message);
    console.log(JSON.stringify({ backend: tagger.backend, fallbackReason: tagger.fallbackReason, language: tagger.language,
      entities, damaged, ensemble, mixed, englishEntities, closed, before, after, sources: summary.sources, loadMs: loaded - started, tagMs: tagged - loaded }));
  `);
  const node = JSON.parse(execFileSync("node", ["node-check.mjs"], { cwd: project, encoding: "utf8" }));
  check("Node.js", node.entities);
  assert.equal(node.backend, "cpu");
  assert.match(node.fallbackReason, /only offered in a browser/);
  assert.equal(node.language, "es");
  assert.match(node.damaged, /\w{3,}/, "a damaged model is refused with a message");
  assert.equal(node.ensemble.architecture, "ensemble");
  assert.deepEqual(node.ensemble.entities.map((e) => [e.start, e.end, e.type, e.text]),
    cliEnsemble.entities.map((e) => [e.start, e.end, e.type, e.text]), "the ensemble finds what the CLI's does");
  assert.match(node.mixed, /cannot combine/);
  assert.deepEqual(node.englishEntities.map((e) => [e.start, e.end, e.type, e.text]), cliEnglish,
    "the English ensemble finds what the CLI's does, its BERT weighted as its file says");
  assert.match(node.ensemble.failedLoad, /\w{3,}/);
  assert.deepEqual(node.ensemble.afterFailedLoad, ["ensemble", ["paracetamol"]], "a failed load keeps the tagger in use");
  assert.match(node.closed, /closed/);
  assert.deepEqual([node.before[0], node.after[0]], [null, "387517004"], "Gelocatil through the user's FHIR terminology");
  assert.match(node.sources.at(-1), /CodeSystem-es-test\.json/);
  figures.node = { loadMs: Math.round(node.loadMs), tagMs: Math.round(node.tagMs), entities: node.entities.length };

  // Chromium: a page of the project imports the package by name, the package's worker
  // fetches the model and index from this server.
  await writeFile(join(project, "index.html"), `<!doctype html>
    <meta charset="utf-8"><title>uses clinitag</title>
    <script type="importmap">{"imports": {"clinitag": "./node_modules/clinitag/index.js"}}</script>
    <script type="module">
      import { createTagger } from "clinitag";
      window.run = async (text) => {
        const downloads = [];
        const started = performance.now();
        const tagger = await createTagger({ model: "models/bilstm-crf-es.clinitag", index: "models/snomed-es.idx",
          onProgress: (loaded, total) => downloads.push([loaded, total]) });
        const loaded = performance.now();
        const entities = await tagger.tag(text);
        const tagged = performance.now();
        const damaged = await createTagger({ model: new Uint8Array(1000) }).then(() => "loaded", (e) => e.message);
        const missing = await createTagger({ model: "models/none.clinitag" }).then(() => "loaded", (e) => e.message);
        tagger.close();
        const closed = await tagger.tag("paracetamol").then(() => "tagged", (e) => e.message);
        // "auto" allowed to measure the software adapter: timed at the first load, the times
        // remembered (IndexedDB) for the second, in a worker of its own.
        const measuring = { model: "models/bilstm-crf-es.clinitag", allowSoftwareAdapter: true };
        const choices = [];
        for (const _ of [1, 2]) {
          const measured = await createTagger(measuring);
          choices.push({ backend: measured.backend, timings: measured.timings, reason: measured.fallbackReason });
          measured.close();
        }
        // WebGPU asked for: the package's module with it, on SwiftShader, against the CPU.
        const gpu = await createTagger({ model: "models/bilstm-crf-es.clinitag", index: "models/snomed-es.idx", backend: "webgpu" });
        const onGpu = await gpu.tag(text);
        const gpuBackend = gpu.backend;
        gpu.close();
        const english = "Cisplatin-induced nephrotoxicity was reversed by magnesium in BRCA1 carriers.";
        const englishOn = async (backend) => {
          const englishTagger = await createTagger({ model: "models/bilstm-crf-en.clinitag", backend });
          const found = await englishTagger.tag(english);
          englishTagger.close();
          return found;
        };
        const englishGpu = await englishOn("webgpu");
        const englishCpu = await englishOn("cpu");
        return { backend: tagger.backend, fallbackReason: tagger.fallbackReason, timings: tagger.timings, entities,
          damaged, missing, closed, choices, downloads: downloads.at(-1), loadMs: loaded - started, tagMs: tagged - loaded,
          gpuBackend, onGpu, englishGpu, englishCpu };
      };
      document.body.dataset.ready = "yes";
    </script>`);
  const files = { "/models/bilstm-crf-es.clinitag": MODEL, "/models/snomed-es.idx": INDEX, "/models/bilstm-crf-en.clinitag": ENGLISH };
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, "http://x").pathname);
    const file = files[path] ?? normalize(join(project, path === "/" ? "index.html" : path));
    try {
      if (!files[path] && !file.startsWith(project)) throw new Error("outside the project");
      const body = await readFile(file);
      response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": body.length });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { chromium } = createRequire(join(ROOT, "tests/e2e/package.json"))("playwright-core");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--enable-unsafe-webgpu", "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(error.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => document.body?.dataset.ready === "yes", null, { timeout: 60_000 });
    const web = await page.evaluate((text) => window.run(text), text);
    check("Chromium", web.entities);
    // SwiftShader is a software GPU: "auto" keeps to the CPU and says why.
    assert.equal(web.backend, "cpu");
    assert.ok(web.fallbackReason, "a reason for the CPU");
    assert.equal(web.timings, null, "nothing measured on a software adapter by default");
    const [measured, remembered] = web.choices;
    assert.ok(measured.timings?.cpu > 0 && measured.timings.webgpu > measured.timings.cpu,
      `SwiftShader measured slower than the CPU: ${JSON.stringify(measured.timings)}`);
    assert.equal(measured.backend, "cpu");
    assert.match(measured.reason, /tagged a short test text faster/);
    assert.deepEqual(remembered, measured, "the second load chose by the remembered times, without measuring");
    // On WebGPU (SwiftShader) the same entities, concepts and assertions as on the CPU, scores
    // within 0.01 (f32 sums in another order).
    assert.equal(web.gpuBackend, "webgpu");
    const same = (e) => [e.start, e.end, e.type, e.concept?.id ?? null, e.assertion];
    assert.deepEqual(web.onGpu.map(same), web.entities.map(same));
    web.onGpu.forEach((g, i) => assert.ok(Math.abs(g.score - web.entities[i].score) < 1e-2, `${g.text}: ${g.score} on WebGPU`));
    assert.ok(web.englishCpu.length > 0);
    assert.deepEqual(web.englishGpu.map(same), web.englishCpu.map(same));
    figures.autoProbeMs = { cpu: Math.round(measured.timings.cpu), swiftshader: Math.round(measured.timings.webgpu) };
    const bytes = (await stat(MODEL)).size + (await stat(INDEX)).size;
    assert.deepEqual(web.downloads, [bytes, bytes], "download progress ends at both files' size");
    assert.match(web.damaged, /\w{3,}/);
    assert.match(web.missing, /HTTP 404/);
    assert.match(web.closed, /closed/);
    assert.deepEqual(problems, []);
    figures.chromium = { loadMs: Math.round(web.loadMs), tagMs: Math.round(web.tagMs), entities: web.entities.length };
  } finally {
    await browser.close();
    server.close();
  }
  console.log(JSON.stringify(figures));
} finally {
  await rm(project, { recursive: true, force: true });
}
