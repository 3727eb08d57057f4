// Nouage's service worker: keeps the app shell (page, scripts, WebAssembly, styles) so a
// board already opened on this device opens again while the server is unreachable (a venue's
// Wi-Fi). Network first: online, every file comes fresh from the server (and the copy is
// refreshed); offline, the copy answers. The API and the websocket are never cached.
const CACHE = "nouage-shell";
const SHELL = ["/index.html", "/main.js", "/style.css", "/web.js", "/web_bg.wasm"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (
    request.method !== "GET" ||
    url.origin !== self.location.origin ||
    url.pathname.startsWith("/api/") ||
    url.pathname.startsWith("/ws/")
  ) {
    return;
  }
  // Every page of the app (`/`, `/b/ID`, `/j/CODE`) is the one `index.html`.
  const key = request.mode === "navigate" ? "/index.html" : url.pathname;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(key, copy)));
        }
        return response;
      })
      .catch(() => caches.match(key).then((cached) => cached || Response.error())),
  );
});
