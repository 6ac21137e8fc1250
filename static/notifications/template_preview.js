// A notification template's page in the admin: the preview follows the staff member's
// typing (POSTed to notificationtemplate_preview), and "Load the shipped text" fills in
// the defaults. A file, not an inline script: the Content-Security-Policy runs no inline code.
(function () {
  "use strict";
  var box = document.getElementById("preview");
  if (!box) { return; }
  var form = box.closest("form");
  var names = ["merchant", "event", "channel", "language", "html_mode", "heading", "paragraphs", "button_text",
               "button_link", "subject", "body_text", "body_html", "title", "body", "link"];
  var timer = null;

  function field(name) { return form.querySelector('[name="' + name + '"]'); }

  function payload(extra) {
    var data = new FormData();
    var token = field("csrfmiddlewaretoken");
    if (token) { data.append("csrfmiddlewaretoken", token.value); }
    names.forEach(function (name) {
      var input = field(name);
      if (input) { data.append(name, input.value); }
    });
    Object.keys(extra || {}).forEach(function (key) { data.append(key, extra[key]); });
    return data;
  }

  // Previews are limited per staff user: past the limit the server answers 429 with the
  // seconds to wait; the preview says so, pauses, and catches up by itself afterwards.
  var paused = document.getElementById("preview-paused");
  var pausedUntil = 0;

  function pause(refusal) {
    var seconds = Math.max(1, refusal.retry_after || 5);
    pausedUntil = Date.now() + seconds * 1000;
    paused.textContent = refusal.detail;
    paused.hidden = false;
    schedule(0);
  }

  function post(extra) {
    return fetch(box.dataset.url, {method: "POST", body: payload(extra), credentials: "same-origin"})
      .then(function (response) {
        if (response.status === 429) {
          return response.json().then(function (refusal) { pause(refusal); return null; });
        }
        if (response.ok) { paused.hidden = true; }
        return response.ok ? response.json() : null;
      });
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(refresh, Math.max(delay, pausedUntil - Date.now()));
  }

  // Only the chosen channel's parts are used: hide the other's fields and preview.
  function showChannel(channel) {
    box.querySelectorAll("[data-channel]").forEach(function (el) { el.hidden = el.dataset.channel !== (channel || "email"); });
    document.querySelectorAll("fieldset.channel-email").forEach(function (el) { el.hidden = channel === "push"; });
    document.querySelectorAll("fieldset.channel-push").forEach(function (el) { el.hidden = channel === "email"; });
    showMode(channel);
  }

  // An email is written as text blocks or as raw bodies: only the chosen way's fields show.
  function showMode(channel) {
    var mode = field("html_mode") ? field("html_mode").value : "raw";
    document.querySelectorAll("fieldset.email-blocks").forEach(function (el) { el.hidden = channel === "push" || mode !== "blocks"; });
    document.querySelectorAll("fieldset.email-raw").forEach(function (el) { el.hidden = channel === "push" || mode === "blocks"; });
  }

  function show(result) {
    if (!result) { return; }
    showChannel(result.channel);
    Object.keys(result.parts).forEach(function (name) {
      var el = box.querySelector('[data-part="' + name + '"]');
      if (!el) { return; }
      if (el.tagName === "IFRAME") { el.srcdoc = result.parts[name]; } else { el.textContent = result.parts[name]; }
    });
    box.querySelectorAll("[data-errors]").forEach(function (list) {
      var errors = result.errors[list.dataset.errors] || [];
      list.replaceChildren.apply(list, errors.map(function (text) {
        var item = document.createElement("li");
        item.textContent = text;
        return item;
      }));
    });
  }

  function refresh() { post().then(show); }

  if (field("channel")) {
    form.addEventListener("input", function () { schedule(400); });
    form.addEventListener("change", function () { showMode(field("channel").value); schedule(50); });
    showChannel(field("channel").value);
  }
  var load = document.getElementById("load-default");
  if (load) {
    load.addEventListener("click", function () {
      post({load_default: "1"}).then(function (result) {
        if (!result) { return; }
        Object.keys(result.sources).forEach(function (name) {
          var input = field(name);
          if (input) { input.value = result.sources[name]; }
        });
        refresh();
      });
    });
  }
})();
