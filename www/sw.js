// The service worker: keeps the page itself (HTML, scripts, the wasm modules) in Cache Storage
// so that a second visit works offline. Models and the index are cached by app.js under
// their hashes. Only this origin's files are ever requested.

const SHELL = "clinitag-shell-v6";
// The CPU's module, which every visit loads (one of two: pkg/relaxed/ where the browser has
// relaxed SIMD, see pkg/relaxed-simd.js), is cached at install; the one with WebGPU when it is
// first fetched (only where a GPU is used).
const CPU_MODULES = ["pkg/clinitag_bg.wasm", "pkg/relaxed/clinitag_bg.wasm"];
const MODULES = [...CPU_MODULES, "pkg/webgpu/clinitag_bg.wasm"];
const FILES = ["./", "index.html", "style.css", "app.js", "batch.js", "formats.js", "vendor/fflate.js", "manifest.json",
  "pkg/index.js", "pkg/worker.js", "pkg/relaxed-simd.js", "pkg/clinitag.js", "pkg/relaxed/clinitag.js",
  "pkg/webgpu/clinitag.js", "third-party.txt"];

// A wasm module's entry in manifest.json and its cache key: its path with the hash, so that a
// cached copy is used exactly as long as it is the module the server would send.
async function moduleEntry(path) {
  const response = await fetch("manifest.json", { cache: "no-cache" });
  if (!response.ok) throw new Error(`manifest.json: HTTP ${response.status}`);
  const { modules } = await response.json();
  const entry = modules.find((m) => m.file === path);
  if (!entry) throw new Error(`manifest.json does not list ${path}`);
  return { sha256: entry.sha256, key: `${path}?sha256=${entry.sha256}` };
}

async function sha256(response) {
  const digest = await crypto.subtle.digest("SHA-256", await response.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// Caches the module under its key. Its bytes come first from the browser's HTTP cache, which
// holds the copy the page has just loaded from the same URL (the page registers this worker
// once its first model is ready), so that a first visit downloads the module once; where
// that copy is missing or not the manifest's, from the server.
async function cacheModule(cache, path, { sha256: expected, key }) {
  let response = await fetch(path);
  if (!response.ok || (await sha256(response.clone())) !== expected) {
    response = await fetch(key, { cache: "reload" });
  }
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  await cache.put(key, response.clone());
  for (const request of await cache.keys()) {
    if (new URL(request.url).pathname.endsWith(`/${path}`) && !request.url.endsWith(key)) await cache.delete(request);
  }
  return response;
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL);
      await cache.addAll(FILES);
      // The CPU module the page has loaded, whichever it is: the one in the HTTP cache.
      for (const path of CPU_MODULES) {
        const copy = await fetch(path, { cache: "only-if-cached", mode: "same-origin" }).catch(() => null);
        if (copy?.ok) await cacheModule(cache, path, await moduleEntry(path));
      }
      await self.skipWaiting();
    })(),
  );
});

// Earlier versions of the shell cache are dead weight.
self.addEventListener("activate", (event) =>
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith("clinitag-shell-") && name !== SHELL) await caches.delete(name);
      await self.clients.claim();
    })(),
  ),
);

// The module (tens of MB): from the cache while manifest.json names the same hash, else
// downloaded once and cached; when offline, whatever version is cached.
async function module(request, path) {
  const cache = await caches.open(SHELL);
  let entry;
  try {
    entry = await moduleEntry(path);
  } catch {
    return (await cache.match(request, { ignoreSearch: true })) ?? fetch(request);
  }
  return (await cache.match(entry.key)) ?? cacheModule(cache, path, entry);
}

// The small files: the network first, so that a rebuilt page shows at once; the cache when
// offline.
async function networkFirst(request) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(SHELL);
      await cache.put(request, response.clone());
    }
    return response;
  } catch {
    return (await caches.match(request, { ignoreSearch: true })) ?? Response.error();
  }
}

// Which of the wasm modules a URL names, if any.
const moduleOf = (url) => MODULES.find((path) => url.pathname.endsWith(`/${path}`));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.includes("/models/")) {
    event.respondWith(caches.match(request).then((hit) => hit ?? fetch(request)));
  } else if (moduleOf(url)) {
    event.respondWith(module(request, moduleOf(url)));
  } else {
    event.respondWith(networkFirst(request));
  }
});
