// The profile page's helper: copy a coupon code or a link, share the referral link (the Web
// Share API where the browser has it, else the link is copied), and bring the page's
// message into view after an action. The language switcher is a plain form with
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

  function share(button) {
    var status = document.getElementById(button.getAttribute("aria-describedby"));
    var url = button.getAttribute("data-share");
    navigator.share({
      title: button.getAttribute("data-share-title") || "",
      text: button.getAttribute("data-share-text") || "",
      url: url,
    }).catch(function (error) {
      if (error && error.name === "AbortError") { return; }  // the member closed the sheet
      copyText(url).then(function () {
        if (status) { status.textContent = button.getAttribute("data-copied"); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (navigator.share) {
      document.querySelectorAll("[data-share]").forEach(function (button) {
        button.hidden = false;
      });
    }
    // After an action the result is the first thing in view, read out by screen readers.
    var messages = document.getElementById("messages");
    if (messages && window.location.hash === "#messages") {
      messages.focus();
    }
  });

  document.addEventListener("click", function (event) {
    var sharing = event.target.closest("[data-share]");
    if (sharing) {
      share(sharing);
      return;
    }
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
