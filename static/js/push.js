/* Web Push on the notification settings page (templates/notifications/_push.html), when JavaScript is on.
   The section #browsers carries what this needs in data attributes: the VAPID applicationServerKey
   (data-push-key), where to post (data-subscribe-url, data-unsubscribe-url), the CSRF token sent in the
   X-CSRFToken header as htmx sends it, and the messages in the page's language.
   The service worker is the site's /sw.js (the installable app's, which importScripts /static/js/sw-push.js
   to show each push): this uses the registration already made for scope "/", else registers /sw.js itself,
   then waits for navigator.serviceWorker.ready before asking its pushManager for a subscription.
   Turning on posts PushSubscription.toJSON() ({endpoint, keys: {p256dh, auth}}) and reloads the page, whose
   "Browsers on this account" list then shows this browser; turning off tells the server, then unsubscribes. */
(function () {
  "use strict";
  var section = document.getElementById("browsers");
  if (!section || !section.dataset.pushKey) {
    return;
  }
  var status = section.querySelector(".push-status");
  var onButton = section.querySelector('[data-push-action="subscribe"]');
  var offButton = section.querySelector('[data-push-action="unsubscribe"]');

  function say(name) {
    status.textContent = section.dataset["message" + name] || "";
  }

  function show(subscribed) {
    onButton.hidden = subscribed;
    offButton.hidden = !subscribed;
    say(subscribed ? "On" : "Off");
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function registration() {
    return navigator.serviceWorker.getRegistration("/").then(function (found) {
      return found || navigator.serviceWorker.register("/sw.js", { scope: "/" });
    }).then(function () {
      return navigator.serviceWorker.ready;
    });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": section.dataset.csrfToken },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("push: the server answered " + response.status);
      }
      return response;
    });
  }

  // This browser's line in the list (marked "this browser"), when the account has its subscription.
  function knownHere(subscription) {
    if (!subscription) {
      return false;
    }
    var items = section.querySelectorAll(".push-browsers li[data-endpoint]");
    for (var i = 0; i < items.length; i += 1) {
      if (items[i].getAttribute("data-endpoint") === subscription.endpoint) {
        var mark = document.createElement("span");
        mark.className = "push-this";
        mark.textContent = section.dataset.messageThis || "";
        items[i].querySelector("span").appendChild(mark);
        return true;
      }
    }
    return false;
  }

  function turnOn() {
    onButton.disabled = true;
    registration().then(function (reg) {
      return reg.pushManager.getSubscription().then(function (existing) {
        return existing || reg.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(section.dataset.pushKey)
        });
      });
    }).then(function (subscription) {
      return post(section.dataset.subscribeUrl, subscription.toJSON());
    }).then(function () {
      window.location.reload();
    }).catch(function () {
      onButton.disabled = false;
      say(window.Notification && Notification.permission === "denied" ? "Denied" : "Failed");
    });
  }

  function turnOff() {
    offButton.disabled = true;
    registration().then(function (reg) {
      return reg.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) {
        return null;
      }
      return post(section.dataset.unsubscribeUrl, { endpoint: subscription.endpoint }).then(function () {
        return subscription.unsubscribe();
      });
    }).then(function () {
      window.location.reload();
    }).catch(function () {
      offButton.disabled = false;
      say("Failed");
    });
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say("Unsupported");
    return;
  }
  onButton.addEventListener("click", turnOn);
  offButton.addEventListener("click", turnOff);
  if (Notification.permission === "denied") {
    say("Denied");
    return;
  }
  navigator.serviceWorker.getRegistration("/").then(function (found) {
    return found ? found.pushManager.getSubscription() : null;
  }).then(function (subscription) {
    show(knownHere(subscription));
  }).catch(function () {
    show(false);
  });
}());
