/* Issue forms, when JavaScript is on:
   - photos chosen in any `input[type=file][accept^="image"]` are shrunk in the browser (longest side
     1600 px, JPEG quality 0.85) and put back into the input, so a phone on weak 4G uploads a few hundred
     KB instead of several MB. A file the browser cannot draw is left as it is: the server checks it and
     explains. The server re-encodes everything anyway, so this is only about upload size.
   - "Use my location" fills the latitude and longitude fields from the phone's position.
   Without JavaScript the form sends the original files and the number fields stay as they are. */
(function () {
  "use strict";
  var LONGEST = 1600, QUALITY = 0.85, MAX_FILES = 6;

  function canShrink() {
    return typeof window.DataTransfer === "function" && typeof HTMLCanvasElement.prototype.toBlob === "function";
  }

  function loadImage(file) {
    if (window.createImageBitmap) {
      return createImageBitmap(file, { imageOrientation: "from-image" });
    }
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file), img = new Image();
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("not an image")); };
      img.src = url;
    });
  }

  function shrink(file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type)) { return Promise.resolve(file); }
    return loadImage(file).then(function (img) {
      var w = img.width, h = img.height, scale = Math.min(1, LONGEST / Math.max(w, h));
      if (scale === 1 && file.type === "image/jpeg" && file.size < 600 * 1024) { return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";  // transparent PNG areas become white, not black
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob || blob.size >= file.size) { resolve(file); return; }
          var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
          resolve(new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified }));
        }, "image/jpeg", QUALITY);
      });
    }).catch(function () { return file; });
  }

  function setBusy(form, busy) {
    form.querySelectorAll("[type=submit]").forEach(function (b) { b.disabled = busy; });
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function onChange(event) {
    var input = event.target, form = input.form, files = Array.prototype.slice.call(input.files || []);
    if (!files.length || files.length > MAX_FILES || input.dataset.shrunk === "pending") { return; }
    input.dataset.shrunk = "pending";
    if (form) { setBusy(form, true); }
    Promise.all(files.map(shrink)).then(function (smaller) {
      var transfer = new DataTransfer();
      smaller.forEach(function (f) { transfer.items.add(f); });
      input.files = transfer.files;
      input.dataset.shrunk = "done";
    }).catch(function () {
      input.dataset.shrunk = "";
    }).then(function () {
      if (form) { setBusy(form, false); }
    });
  }

  function useLocation(button) {
    var lat = document.getElementById("latitude"), lon = document.getElementById("longitude");
    var status = document.getElementById("location-status");
    if (!lat || !lon || !navigator.geolocation) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (status) { status.textContent = button.dataset.waiting || ""; }
      navigator.geolocation.getCurrentPosition(function (position) {
        lat.value = position.coords.latitude.toFixed(6);
        lon.value = position.coords.longitude.toFixed(6);
        if (status) { status.textContent = button.dataset.done || ""; }
      }, function () {
        if (status) { status.textContent = button.dataset.failed || ""; }
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  function init() {
    if (canShrink()) {
      document.querySelectorAll("input[type=file][accept^='image']").forEach(function (input) {
        input.addEventListener("change", onChange);
      });
    }
    var button = document.getElementById("use-location");
    if (button) { useLocation(button); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
