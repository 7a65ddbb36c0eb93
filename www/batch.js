// Many files at once: .txt files or a BRAT folder, picked or dropped, tagged one after the
// other by the page's tagger (in its worker, so the page stays responsive), with a progress
// bar per file and overall, a row of results per file, and everything exported as one ZIP:
// for each file its text, BRAT .ann with SNOMED CT codes as AnnotatorNotes, PharmaCoNER .tsv
// and JSON. The ZIP is written by fflate (vendor/fflate.js), here in the tab.

import { zipSync, strToU8 } from "./vendor/fflate.js";
import { bratAnn, entitiesJson, pharmaconerTsv } from "./formats.js";

const $ = (id) => document.getElementById(id);

// Every .txt file under a dropped entry (a file or a folder, read recursively).
async function droppedFiles(entry) {
  if (entry.isFile) return [await new Promise((ok, fail) => entry.file(ok, fail))];
  const reader = entry.createReader();
  const files = [];
  for (;;) {
    const entries = await new Promise((ok, fail) => reader.readEntries(ok, fail));
    if (!entries.length) return files;
    for (const child of entries) files.push(...(await droppedFiles(child)));
  }
}

const isText = (file) => /\.txt$/i.test(file.name);

// A name per file for the ZIP, unique: `case.txt` → `case`, a second `case` → `case-2`.
function documentNames(files) {
  const seen = new Map();
  return files.map((file) => {
    const base = file.name.replace(/\.txt$/i, "") || "text";
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return count === 1 ? base : `${base}-${count}`;
  });
}

/**
 * Wires the batch section. `page` gives what the page holds: `tagger()` (the package's
 * tagger, or null while none is loaded), `ready()` (no load under way), `typeName(type)`,
 * `download(name, type, content)` and `recover(reason)` for a tagger that crashed.
 */
export function setUpBatch(page) {
  let results = [];
  let running = false;
  let stopping = false;

  function setStatus(message) {
    $("batch-status").textContent = message;
  }

  function row(name) {
    const tr = document.createElement("tr");
    const bar = Object.assign(document.createElement("progress"), { max: 1, value: 0 });
    bar.setAttribute("aria-label", `${name}: progress`);
    const cells = [name, bar, "", ""].map((content) => {
      const td = document.createElement("td");
      td.append(content);
      return td;
    });
    tr.replaceChildren(...cells);
    return { tr, bar, types: cells[2], concepts: cells[3] };
  }

  async function run(files) {
    files = files.filter(isText).sort((a, b) => a.name.localeCompare(b.name, "en"));
    if (running || !files.length) return;
    const tagger = page.tagger();
    $("batch-run").hidden = false;
    if (!tagger || !page.ready()) {
      setStatus("Wait until the model is ready, then choose the files again.");
      return;
    }
    running = true;
    stopping = false;
    results = [];
    document.body.dataset.batch = "running";
    $("batch-export").disabled = true;
    $("batch-stop").disabled = false;
    const names = documentNames(files);
    const rows = names.map(row);
    $("batch-table").tBodies[0].replaceChildren(...rows.map((r) => r.tr));
    const overall = $("batch-progress");
    overall.max = files.length;
    overall.value = 0;
    const started = performance.now();
    let entityCount = 0;
    for (const [i, file] of files.entries()) {
      if (stopping) break;
      setStatus(`Tagging ${i + 1} of ${files.length}: ${file.name}`);
      const { bar, types, concepts } = rows[i];
      try {
        const text = await file.text();
        const entities = await tagger.tag(text, { onProgress: (done, total) => Object.assign(bar, { max: total, value: done }) });
        bar.max = 1;
        bar.value = 1;
        results.push({ name: names[i], text, entities });
        entityCount += entities.length;
        const counts = {};
        for (const e of entities) counts[e.type] = (counts[e.type] ?? 0) + 1;
        types.textContent = Object.entries(counts).map(([type, n]) => `${page.typeName(type)}: ${n}`).join("; ") || "none";
        concepts.textContent = String(new Set(entities.filter((e) => e.concept).map((e) => e.concept.id)).size);
      } catch (error) {
        types.textContent = `Not tagged: ${error.message}`;
        types.className = "failed";
        if (error.crashed) {
          stopping = true;
          page.recover(error.reason);
        }
      }
      overall.value = i + 1;
    }
    const seconds = (performance.now() - started) / 1000;
    running = false;
    document.body.dataset.batch = "done";
    $("batch-stop").disabled = true;
    $("batch-export").disabled = !results.length;
    setStatus(
      `${stopping ? "Stopped after" : "Tagged"} ${results.length} of ${files.length} files in ${seconds.toFixed(1)} s: ` +
        `${entityCount.toLocaleString("en")} entities.`,
    );
  }

  function exportZip() {
    const entries = {};
    for (const { name, text, entities } of results) {
      entries[`${name}.txt`] = strToU8(text);
      entries[`${name}.ann`] = strToU8(bratAnn(text, entities));
      entries[`${name}.tsv`] = strToU8(pharmaconerTsv(name, entities));
      entries[`${name}.json`] = strToU8(entitiesJson(entities));
    }
    page.download("clinitag-results.zip", "application/zip", zipSync(entries, { level: 6 }));
  }

  $("batch-files").onchange = () => {
    const files = [...$("batch-files").files];
    $("batch-files").value = "";
    run(files);
  };
  $("batch-folder").onchange = () => {
    const files = [...$("batch-folder").files];
    $("batch-folder").value = "";
    run(files);
  };
  const drop = $("batch-drop");
  drop.ondragover = (event) => {
    event.preventDefault();
    drop.classList.add("over");
  };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = async (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const entries = [...event.dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
    const files = entries.length
      ? (await Promise.all(entries.map(droppedFiles))).flat()
      : [...event.dataTransfer.files];
    run(files);
  };
  $("batch-stop").onclick = () => {
    stopping = true;
    setStatus("Stopping after this file…");
  };
  $("batch-export").onclick = exportZip;
}
