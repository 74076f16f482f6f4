/* Yishi's service worker (portal/webapp.py serves it at /sw.js). Version {{ version }}: a hash of every
   static file and the app's version, so a deploy that changes a file installs a new worker, and the new
   worker deletes the caches of the old one when it takes over.
   - Static files live under content-hashed addresses (/static/<hash>/…) that never change: cache first.
   - Pages (and the manifest): network first; a page that answered is kept (the last 40), and shown again
     without a connection; a page never opened shows the offline page.
   - The drafts' form token (static/js/webapp.js) answers {"offline": true} without a connection.
   - Nothing else is touched: form posts, htmx fragments and downloads go to the network as before.
   - Signing out forgets the kept pages: they were that person's. Switching the language or the text size
     stores the offline page again. */
"use strict";
importScripts("/static/js/sw-push.js");

var VERSION = {{ version|tojson }};
var STATIC_CACHE = "yishi-static-" + VERSION;
var PAGE_CACHE = "yishi-pages-" + VERSION;
var SHELL = {{ shell|tojson }};
var OFFLINE_URL = {{ offline_url|tojson }};
var LOGOUT_URL = {{ logout_url|tojson }};
var MANIFEST_URL = {{ manifest_url|tojson }};
var TOKEN_URL = {{ token_url|tojson }};
var SWITCH_URLS = {{ switch_urls|tojson }};
var MAX_PAGES = 40;

self.addEventListener("install", function (event) {
  event.waitUntil(Promise.all([
    caches.open(STATIC_CACHE).then(function (cache) { return cache.addAll(SHELL); }),
    caches.open(PAGE_CACHE).then(function (cache) { return cache.add(OFFLINE_URL); })
  ]).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("yishi-") === 0 && name !== STATIC_CACHE && name !== PAGE_CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function isHashedStatic(url) {
  return /^\/static\/[0-9a-f]{12}\//.test(url.pathname);
}

function cacheFirst(request) {
  return caches.open(STATIC_CACHE).then(function (cache) {
    return cache.match(request).then(function (found) {
      return found || fetch(request).then(function (response) {
        if (response.ok) { cache.put(request, response.clone()); }
        return response;
      });
    });
  });
}

function keepPage(request, response) {
  var cacheControl = response.headers.get("Cache-Control") || "";
  var type = response.headers.get("Content-Type") || "";
  // Pages and the manifest only: never a download (an export, a PDF) or anything marked not to be stored.
  if (!response.ok || response.type !== "basic" || /no-store/.test(cacheControl) ||
      !/^(text\/html|application\/manifest\+json)/.test(type) || response.headers.get("Content-Disposition")) {
    return Promise.resolve();
  }
  return caches.open(PAGE_CACHE).then(function (cache) {
    return cache.put(request, response).then(function () { return cache.keys(); }).then(function (keys) {
      var pages = keys.filter(function (key) { return new URL(key.url).pathname !== OFFLINE_URL; });
      return Promise.all(pages.slice(0, Math.max(0, pages.length - MAX_PAGES)).map(function (key) {
        return cache.delete(key);
      }));
    });
  });
}

// 200, not an error status: a failed load is an error in the page's console, and this is no error, only news.
function unavailable() {
  return new Response(JSON.stringify({ offline: true }), { headers: { "Content-Type": "application/json" } });
}

function fromCache(request, otherwise) {
  return caches.open(PAGE_CACHE).then(function (cache) {
    return cache.match(request, { ignoreVary: true }).then(function (found) {
      return found || otherwise(cache);
    });
  });
}

function offlinePage(cache) {
  return cache.match(OFFLINE_URL).then(function (page) { return page || unavailable(); });
}

// Pages and the manifest: the network, else what was kept (pages: else the offline page).
function networkFirst(event, otherwise) {
  var request = event.request;
  return fetch(request).then(function (response) {
    event.waitUntil(keepPage(request, response.clone()));
    return response;
  }).catch(function () { return fromCache(request, otherwise); });
}

self.addEventListener("fetch", function (event) {
  var request = event.request, url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.method === "POST" && url.pathname === LOGOUT_URL) {
    event.waitUntil(caches.delete(PAGE_CACHE).then(function () {
      return caches.open(PAGE_CACHE).then(function (cache) { return cache.add(OFFLINE_URL); });
    }));
    return;
  }
  if (SWITCH_URLS.indexOf(url.pathname) !== -1 && request.mode === "navigate") {
    // The language and text-size switches: the offline page is stored again in the new language and size.
    event.respondWith(fetch(request).then(function (response) {
      event.waitUntil(caches.open(PAGE_CACHE).then(function (cache) { return cache.add(OFFLINE_URL); }));
      return response;
    }));
    return;
  }
  if (request.method !== "GET") { return; }
  if (isHashedStatic(url)) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === "navigate" && !request.headers.get("HX-Request")) {
    event.respondWith(networkFirst(event, offlinePage));
  } else if (url.pathname === MANIFEST_URL) {
    event.respondWith(networkFirst(event, unavailable));
  } else if (url.pathname === TOKEN_URL) {
    // The drafts' token: without a connection, a plain "offline" answer the page's script understands.
    event.respondWith(fetch(request).catch(unavailable));
  }
});
