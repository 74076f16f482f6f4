/* Web Push in the service worker (imported by /sw.js). The server sends a JSON payload
   {"title": …, "body": …, "url": …, "tag": …} (portal's push channel); the notification shows the title and
   body, and a tap opens the address, or brings forward a window that already shows it. A notification with
   the same tag replaces the earlier one (the same issue changing twice shows once). */
"use strict";

var PUSH_ICON = "/static/icons/icon-192.png";

function pushPayload(event) {
  var data = {};
  if (event.data) {
    try {
      data = event.data.json() || {};
    } catch (error) {
      data = { body: event.data.text() };
    }
  }
  var url = typeof data.url === "string" ? data.url : "/";
  try {
    // Only addresses of this site: a payload never sends anyone elsewhere.
    var parsed = new URL(url, self.location.origin);
    url = parsed.origin === self.location.origin ? parsed.href : self.location.origin + "/";
  } catch (error) {
    url = self.location.origin + "/";
  }
  return {
    title: typeof data.title === "string" && data.title ? data.title : "议事",
    body: typeof data.body === "string" ? data.body : "",
    url: url,
    tag: typeof data.tag === "string" ? data.tag : ""
  };
}

self.addEventListener("push", function (event) {
  var payload = pushPayload(event);
  var options = { body: payload.body, icon: PUSH_ICON, badge: PUSH_ICON, data: { url: payload.url } };
  if (payload.tag) {
    options.tag = payload.tag;
    options.renotify = true;
  }
  event.waitUntil(self.registration.showNotification(payload.title, options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || self.location.origin + "/";
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    for (var i = 0; i < windows.length; i += 1) {
      if (windows[i].url === url && "focus" in windows[i]) { return windows[i].focus(); }
    }
    return self.clients.openWindow(url);
  }));
});
