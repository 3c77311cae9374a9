/* Gridloop field app service worker: the app shell from the cache (it opens with no network), the data document and
   case photos network-first with the last copy kept for offline use. Reports and actions are NOT sent from here: the
   page's outbox (IndexedDB) sends them, so nothing depends on background sync. */
const VERSION = "{{ version }}";
const SHELL = "field-shell-" + VERSION;
const DATA = "field-data";
const SHELL_URLS = {{ shell_urls|safe }};
const APP_URL = {{ app_url|safe }};
const DATA_URL = {{ data_url|safe }};
const PHOTO_PREFIX = {{ photo_prefix|safe }};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(SHELL_URLS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(
    keys.filter((key) => key.startsWith("field-shell-") && key !== SHELL).map((key) => caches.delete(key))
  )).then(() => self.clients.claim()));
});

function timeout(ms) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms));
}

async function networkFirst(request, cacheName, waitMs) {
  const cache = await caches.open(cacheName);
  if (self.navigator && self.navigator.onLine === false) {  // known offline: straight to the kept copy
    const kept = await cache.match(request, { ignoreSearch: true });
    if (kept) return kept;
  }
  try {
    const response = await Promise.race([fetch(request), timeout(waitMs)]);
    if (response.ok && !response.redirected) cache.put(request, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(request, { ignoreSearch: true });
    if (kept) return kept;
    throw error;
  }
}

async function cacheFirst(request, cacheName) {
  const kept = await caches.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) (await caches.open(cacheName)).put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === APP_URL) {
    event.respondWith(networkFirst(new Request(APP_URL, { credentials: "same-origin" }), SHELL, 4000));
  } else if (url.pathname === DATA_URL) {
    event.respondWith(networkFirst(request, DATA, 8000));
  } else if (url.pathname.startsWith(PHOTO_PREFIX)) {
    event.respondWith(cacheFirst(request, DATA));
  } else if (SHELL_URLS.includes(url.pathname)) {
    event.respondWith(cacheFirst(request, SHELL));
  }
});

self.addEventListener("message", (event) => {
  // The page asks for the photos of its tasks to be kept (so the case pages show them offline).
  if (event.data && event.data.type === "keep-photos") {
    event.waitUntil(caches.open(DATA).then((cache) => Promise.all(event.data.urls.map(async (photoUrl) => {
      if (await cache.match(photoUrl)) return;
      try {
        const response = await fetch(photoUrl, { credentials: "same-origin" });
        if (response.ok) await cache.put(photoUrl, response);
      } catch (error) { /* offline: kept next time */ }
    }))));
  }
});
