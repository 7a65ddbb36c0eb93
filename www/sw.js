// The service worker: keeps the page itself (HTML, scripts, the wasm module) in Cache Storage
// so that a second visit works offline. Models and the index are cached by app.js under
// their hashes. Only this origin's files are ever requested.

const SHELL = "clinitag-shell-v3";
const MODULE = "pkg/clinitag_bg.wasm";
const FILES = ["./", "index.html", "style.css", "app.js", "batch.js", "formats.js", "vendor/fflate.js", "manifest.json",
  "pkg/index.js", "pkg/worker.js", "pkg/clinitag.js", "third-party.txt"];

// The wasm module's cache key: its path with the hash that manifest.json gives it, so that a
// cached copy is used exactly as long as it is the module the server would send.
async function moduleKey() {
  const response = await fetch("manifest.json", { cache: "no-cache" });
  if (!response.ok) throw new Error(`manifest.json: HTTP ${response.status}`);
  const { module } = await response.json();
  return `${MODULE}?sha256=${module.sha256}`;
}

async function cacheModule(cache, key) {
  const response = await fetch(key);
  if (!response.ok) throw new Error(`${MODULE}: HTTP ${response.status}`);
  await cache.put(key, response.clone());
  for (const request of await cache.keys()) {
    if (new URL(request.url).pathname.endsWith(`/${MODULE}`) && !request.url.endsWith(key)) await cache.delete(request);
  }
  return response;
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL);
      await cache.addAll(FILES);
      await cacheModule(cache, await moduleKey());
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
async function module(request) {
  const cache = await caches.open(SHELL);
  let key;
  try {
    key = await moduleKey();
  } catch {
    return (await cache.match(request, { ignoreSearch: true })) ?? fetch(request);
  }
  return (await cache.match(key)) ?? cacheModule(cache, key);
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

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.includes("/models/")) {
    event.respondWith(caches.match(request).then((hit) => hit ?? fetch(request)));
  } else if (url.pathname.endsWith(`/${MODULE}`)) {
    event.respondWith(module(request));
  } else {
    event.respondWith(networkFirst(request));
  }
});
