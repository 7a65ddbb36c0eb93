// The service worker: keeps the page itself (HTML, scripts, the wasm module) in Cache Storage
// so that a second visit works offline. Models and the index are cached by worker.js under
// their hashes. Only this origin's files are ever requested.

const SHELL = "clinitag-shell-v1";
const FILES = ["./", "index.html", "style.css", "app.js", "worker.js", "manifest.json", "pkg/clinitag.js", "pkg/clinitag_bg.wasm"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// The network first, so that a rebuilt page shows at once; the cache when offline.
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  if (new URL(request.url).pathname.includes("/models/")) {
    event.respondWith(caches.match(request).then((hit) => hit ?? fetch(request)));
    return;
  }
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(SHELL).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request, { ignoreSearch: true }).then((hit) => hit ?? Response.error())),
  );
});
