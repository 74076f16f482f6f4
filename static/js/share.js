/* The share panel's "Copy link" button (templates/share/_panel.html): shown only where the browser can copy
   to the clipboard; without JavaScript the short link stays a plain link to press and hold. */
(function () {
  "use strict";
  if (!navigator.clipboard || typeof navigator.clipboard.writeText !== "function") {
    return;
  }
  document.querySelectorAll("button.share-copy[data-copy]").forEach(function (button) {
    var status = button.parentNode.querySelector(".share-copied");
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
        if (status) { status.textContent = status.getAttribute("data-copied"); }
      }, function () {
        if (status) { status.textContent = status.getAttribute("data-failed"); }
      });
    });
  });
}());
