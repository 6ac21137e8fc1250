// The profile page's helper: copy a coupon code. The language switcher is a plain form with
// a button (changing a select must not navigate by itself: WCAG 3.2.2, on input).
// Vanilla JS, no framework; every control also works without it (forms post as usual).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain http (e.g. a local run): the old way, through a hidden text area.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var status = document.getElementById(button.getAttribute("aria-describedby"));
    copyText(button.getAttribute("data-copy")).then(function () {
      if (status) { status.textContent = button.getAttribute("data-copied"); }
    }, function () {
      if (status) { status.textContent = button.getAttribute("data-copy-failed"); }
    });
  });
})();
