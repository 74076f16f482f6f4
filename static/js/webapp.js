/* The installable web app, on every page (issue #21):
   - registers the service worker (/sw.js: cached shell and pages, the offline page, push);
   - offline drafts: a form marked `data-draft` (the issue report, comments, updates) that is sent while the
     phone has no connection is kept in IndexedDB instead — the text and the photos (already shrunk on a
     canvas by photo-shrink.js) — and the page says so. When the connection returns (the `online` event, or
     the next page opened) each kept draft is sent with a fresh form token and the server's answer is shown:
     sent (the draft is deleted), or refused (the draft is kept, and filled into its form the next time the
     form is opened, to correct and send again). A draft is only ever sent for the person who wrote it.
   Without JavaScript, or without IndexedDB, the forms are sent as always. The texts come from the form's
   data-draft-* attributes, in the page's language, and travel with the draft. */
(function () {
  "use strict";
  var DB_NAME = "yishi-drafts", STORE = "drafts", TOKEN_URL = "/webapp/form-token", LOGIN_PATH = "/login";

  // After the page has loaded: the worker's first install fetches the shell, which must not compete with the
  // page itself.
  function registerWorker() {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* the site works without it */ });
  }
  if ("serviceWorker" in navigator) {
    if (document.readyState === "complete") {
      registerWorker();
    } else {
      window.addEventListener("load", registerWorker);
    }
  }

  function ready(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }

  // --- the offline page's "Try again" ----------------------------------------------------------------------
  ready(function () {
    var retry = document.getElementById("offline-retry");
    if (retry) {
      retry.hidden = false;
      retry.addEventListener("click", function () { window.location.reload(); });
    }
  });

  // htmx fragments (similar issues, likes) cannot come without a connection: don't ask, so nothing fails.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (navigator.onLine === false) { event.preventDefault(); }
  });

  if (!window.indexedDB || !window.fetch || !window.FormData || !window.DOMParser) { return; }

  // --- storage ---------------------------------------------------------------------------------------------
  function openStore() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, work) {
    return openStore().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), result;
        var request = work(tx.objectStore(STORE));
        if (request) { request.onsuccess = function () { result = request.result; }; }
        tx.oncomplete = function () { db.close(); resolve(result); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function allDrafts() { return withStore("readonly", function (s) { return s.getAll(); }); }
  function putDraft(draft) { return withStore("readwrite", function (s) { return s.put(draft); }); }
  function deleteDraft(id) { return withStore("readwrite", function (s) { return s.delete(id); }); }

  function currentPerson() {
    var meta = document.querySelector("meta[name='yishi-person']");
    return meta ? meta.content : "";
  }

  // --- messages --------------------------------------------------------------------------------------------
  function messageArea() {
    var area = document.getElementById("draft-messages");
    if (!area) {
      var main = document.getElementById("main") || document.body;
      area = document.createElement("div");
      area.id = "draft-messages";
      area.className = "flashes";
      area.setAttribute("role", "status");
      main.insertBefore(area, main.firstChild);
    }
    return area;
  }

  function announce(text, kind, link, place) {
    var line = document.createElement("p");
    line.className = "flash flash-" + kind;
    line.appendChild(document.createTextNode(text));
    if (link && link.href) {
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      line.appendChild(document.createTextNode(" "));
      line.appendChild(a);
    }
    if (place) {
      place.parentNode.insertBefore(line, place);
      line.setAttribute("role", "status");
    } else {
      messageArea().appendChild(line);
    }
    return line;
  }

  function textsOf(form) {
    var d = form.dataset;
    return { saved: d.draftSaved, sent: d.draftSent, refused: d.draftRefused, signIn: d.draftSignIn,
             restored: d.draftRestored, discard: d.draftDiscard, open: d.draftOpen, correct: d.draftCorrect,
             failed: d.draftFailed, needsConnection: d.draftNeedsConnection };
  }

  // --- keeping a draft -------------------------------------------------------------------------------------
  function draftOf(form) {
    var fields = [], files = [];
    new FormData(form).forEach(function (value, name) {
      if (typeof value !== "string") {
        if (value.size) { files.push({ name: name, file: value }); }
      } else if (name !== "csrf_token") {
        fields.push([name, value]);
      }
    });
    var draft = { action: form.action, page: window.location.pathname + window.location.search,
                  person: form.dataset.draftPerson || currentPerson(), savedAt: Date.now(), fields: fields,
                  files: files, state: "waiting", texts: textsOf(form) };
    if (form.dataset.draftId) { draft.id = Number(form.dataset.draftId); }
    return draft;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-draft")) { return; }
    if (navigator.onLine !== false) {
      // Sent now: a draft that was filled into this form is done with (the server keeps the typing if it
      // refuses).
      if (form.dataset.draftId) { deleteDraft(Number(form.dataset.draftId)); }
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();  // before htmx sees it
    var texts = textsOf(form);
    if (event.submitter && event.submitter.name) {
      // A button of its own ("Check for similar issues") asks the server something: not a draft to send.
      announce(texts.needsConnection, "error", null, form).classList.add("draft-note");
      return;
    }
    putDraft(draftOf(form)).then(function () {
      form.reset();
      delete form.dataset.draftId;
      announce(texts.saved, "success", null, form).classList.add("draft-note");
    }, function () {
      announce(texts.failed, "error", null, form);
    });
  }, true);

  // --- filling a refused draft back into its form ----------------------------------------------------------
  function fill(form, draft) {
    draft.fields.forEach(function (pair) {
      var control = form.elements.namedItem(pair[0]);
      if (!control) { return; }
      var controls = control instanceof RadioNodeList ? Array.prototype.slice.call(control) : [control];
      controls.forEach(function (c) {
        if (c.type === "checkbox" || c.type === "radio") {
          if (c.value === pair[1]) { c.checked = true; }
        } else if (c.type !== "file" && c.type !== "hidden") {
          c.value = pair[1];
        }
      });
    });
    if (draft.files.length && typeof window.DataTransfer === "function") {
      var byInput = {};
      draft.files.forEach(function (f) { (byInput[f.name] = byInput[f.name] || []).push(f.file); });
      Object.keys(byInput).forEach(function (name) {
        var input = form.elements.namedItem(name);
        if (!input || input.type !== "file") { return; }
        var transfer = new DataTransfer();
        byInput[name].forEach(function (file) { transfer.items.add(file); });
        input.files = transfer.files;
      });
    }
    form.dataset.draftId = String(draft.id);
    var texts = textsOf(form);
    var note = announce(texts.restored + (draft.problem ? " " + draft.problem : ""), "error", null, form);
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "link-button";
    discard.textContent = texts.discard;
    discard.addEventListener("click", function () {
      deleteDraft(draft.id).then(function () {
        form.reset();
        delete form.dataset.draftId;
        note.remove();
      });
    });
    note.appendChild(document.createTextNode(" "));
    note.appendChild(discard);
  }

  // The same form, not only the same address: a reply and a new comment post to one address, and differ in
  // their hidden fields (the comment replied to).
  function sameForm(form, draft) {
    return draft.action === form.action && Array.prototype.every.call(
      form.querySelectorAll("input[type=hidden]:not([name=csrf_token])"), function (input) {
        return draft.fields.some(function (pair) { return pair[0] === input.name && pair[1] === input.value; });
      });
  }

  function restoreInto(forms, drafts, person) {
    forms.forEach(function (form) {
      if (form.dataset.draftId) { return; }  // filled already
      var draft = drafts.filter(function (d) {
        return sameForm(form, d) && d.person === person && d.state === "refused";
      }).pop();
      if (draft) { fill(form, draft); }
    });
  }

  // --- sending kept drafts ---------------------------------------------------------------------------------
  function pageText(doc, selector) {
    return Array.prototype.map.call(doc.querySelectorAll(selector), function (el) {
      return el.textContent.replace(/\s+/g, " ").trim();
    }).filter(Boolean).join(" ");
  }

  function freshToken() {
    return fetch(TOKEN_URL, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (!response.ok || !json) { return null; }  // signed out: the sign-in page answered
        return response.json();
      }).then(function (answer) {
        if (answer && answer.offline) { throw new Error("offline"); }  // the service worker: no connection
        return answer;
      });
  }

  function send(draft, token) {
    var body = new FormData();
    draft.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
    body.append("csrf_token", token);
    draft.files.forEach(function (f) { body.append(f.name, f.file, f.file.name || "photo.jpg"); });
    return fetch(draft.action, { method: "POST", body: body, credentials: "same-origin" }).then(function (response) {
      return response.text().then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var landed = new URL(response.url);
        var accepted = response.ok && response.redirected && landed.pathname !== LOGIN_PATH &&
          landed.href.split("#")[0] !== draft.action && !doc.querySelector("main .flash-error");
        document.querySelectorAll(".draft-note").forEach(function (note) { note.remove(); });
        if (accepted) {
          return deleteDraft(draft.id).then(function () {
            announce(draft.texts.sent + " " + pageText(doc, "main .flash-success"), "success",
                     { href: response.url, text: draft.texts.open });
          });
        }
        draft.state = "refused";
        draft.problem = pageText(doc, "main .error, main .flash-error") || pageText(doc, "main h1, main .card > p");
        return putDraft(draft).then(function () {
          announce(draft.texts.refused + " " + draft.problem, "error", { href: draft.page, text: draft.texts.correct });
          // Its form is on this page: fill it in now rather than after a reload.
          restoreInto(Array.prototype.slice.call(document.querySelectorAll("form[data-draft]:not([data-draft-id])")),
                      [draft], draft.person);
        });
      });
    });
  }

  var sending = false, retry = null;
  var RETRY_AFTER = 15000;  // when the phone says it is online but the network did not answer
  var SETTLE = 1000;  // a connection that just came back often needs a moment

  function sendKept() {
    if (sending || navigator.onLine === false) { return allDrafts().catch(function () { return []; }); }
    sending = true;
    var person = currentPerson();
    return allDrafts().then(function (drafts) {
      var waiting = drafts.filter(function (d) { return d.state === "waiting"; });
      if (!person) {
        if (waiting.length) { announce(waiting[0].texts.signIn, "error", null); }
        return drafts;
      }
      var mine = waiting.filter(function (d) { return d.person === person; });
      if (!mine.length) { return drafts; }
      return freshToken().then(function (answer) {
        if (!answer || String(answer.person) !== person) {
          announce(mine[0].texts.signIn, "error", null);
          return drafts;
        }
        return mine.reduce(function (done, draft) {
          return done.then(function () { return send(draft, answer.csrf_token); });
        }, Promise.resolve()).then(allDrafts);
      });
    }).catch(function () {
      // No connection after all: the drafts wait for the next `online` event, or a while.
      if (!retry) { retry = window.setTimeout(function () { retry = null; sendKept(); }, RETRY_AFTER); }
      return allDrafts().catch(function () { return []; });
    }).then(function (drafts) {
      sending = false;
      return drafts || [];
    });
  }

  ready(function () {
    var forms = Array.prototype.slice.call(document.querySelectorAll("form[data-draft]"));
    sendKept().then(function (drafts) {
      if (forms.length) { restoreInto(forms, drafts, currentPerson()); }
    });
  });
  window.addEventListener("online", function () { window.setTimeout(sendKept, SETTLE); });
}());
