// The builder's live example. On the program page: sends the order amount, the chosen tier
// (with its multiplier as its card shows it) and the earn settings as typed to the example
// view. On an earning rule's or a campaign's page ("draft"): posts the whole form as typed,
// with the amount and the tier, so the example counts the unsaved rule or campaign. Shows
// what comes back; runs again, a moment after the last keystroke, on every edit.
(function () {
  "use strict";
  var box = document.getElementById("earning-example");
  if (!box) { return; }
  var url = box.getAttribute("data-example-url");
  var draft = box.hasAttribute("data-example-draft");
  var form = box.closest("form");
  var amount = document.getElementById("example-amount");
  var tierSelect = document.getElementById("example-tier");
  var result = document.getElementById("example-result");
  var flags = ["earn_on_discount", "earn_on_shipping", "earn_on_tax", "earn_on_gift_card"];
  var timer = null;
  var asked = 0;

  function cards() {
    // The tier cards still on the page (not the hidden template, not ticked for deletion).
    var found = [];
    form.querySelectorAll('input[name^="tiers-"][name$="-name"]').forEach(function (input) {
      var prefix = input.name.slice(0, -"name".length);
      if (prefix.indexOf("__prefix__") !== -1) { return; }
      var gone = form.querySelector('input[name="' + prefix + 'DELETE"]');
      var name = input.value.trim();
      if (!name || (gone && gone.checked)) { return; }
      var multiplier = form.querySelector('input[name="' + prefix + 'earn_multiplier"]');
      found.push({ name: name, multiplier: multiplier ? multiplier.value : "" });
    });
    return found;
  }

  function fillTiers(list) {
    var chosen = tierSelect.value;
    while (tierSelect.options.length > 1) { tierSelect.remove(1); }
    list.forEach(function (tier) {
      var option = document.createElement("option");
      option.value = tier.name;
      option.textContent = tier.name;
      tierSelect.appendChild(option);
    });
    tierSelect.value = list.some(function (t) { return t.name === chosen; }) ? chosen : "";
  }

  function show(ticket) {
    return function (html) { if (ticket === asked) { result.innerHTML = html; } };
  }

  function askDraft() {
    var data = new FormData(form);
    data.set("example_amount", amount.value);
    data.set("example_tier", tierSelect.value);
    var token = form.querySelector('input[name="csrfmiddlewaretoken"]');
    var ticket = ++asked;
    fetch(url, {
      method: "POST", body: data, credentials: "same-origin",
      headers: token ? { "X-CSRFToken": token.value } : {}
    })
      .then(function (response) { return response.text(); })
      .then(show(ticket))
      .catch(function () { /* the previous example stays; the next edit asks again */ });
  }

  function ask() {
    if (draft) { askDraft(); return; }
    var list = cards();
    fillTiers(list);
    var params = new URLSearchParams();
    params.set("amount", amount.value);
    var tier = list.filter(function (t) { return t.name === tierSelect.value; })[0];
    if (tier) {
      params.set("tier", tier.name);
      params.set("tier_multiplier", tier.multiplier);
    }
    var rate = form.querySelector('[name="earn_rate"]');
    if (rate) { params.set("earn_rate", rate.value); }
    flags.forEach(function (name) {
      var box = form.querySelector('input[name="' + name + '"]');
      if (box) { params.set(name, box.checked ? "on" : "off"); }
    });
    var ticket = ++asked;
    fetch(url + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(show(ticket))
      .catch(function () { /* the previous example stays; the next edit asks again */ });
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 300);
  }

  box.addEventListener("keydown", function (event) {
    // Enter in the example asks again; it must not save the program.
    if (event.key === "Enter") { event.preventDefault(); ask(); }
  });
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  form.addEventListener("click", function (event) {
    // "Add another tier" and a card's remove link change the cards without an input event.
    if (event.target.closest(".add-row, .inline-deletelink")) { soon(); }
  });
  ask();
})();

// The reward thresholds: each kind shows its own fields. A field or group of fields another
// kind has no use for ("data-kinds") is folded away while it is empty and without an error,
// so nothing typed is ever hidden (the service would refuse it, and say so on that field).
(function () {
  "use strict";
  var box = document.getElementById("thresholds");
  if (!box) { return; }

  function empty(part) {
    if (part.querySelector(".errorlist")) { return false; }
    // A free product's quantity is 1 until changed: that alone says nothing.
    var inputs = part.querySelectorAll(
      'input[type=text], input[type=number]:not([name$="-product_quantity"]), textarea'
    );
    return Array.prototype.every.call(inputs, function (input) { return !input.value.trim(); });
  }

  function sync(row) {
    var kind = row.querySelector('select[name$="-kind"]');
    if (!kind) { return; }
    row.setAttribute("data-kind", kind.value);
    row.querySelectorAll("[data-kinds]").forEach(function (part) {
      var mine = part.getAttribute("data-kinds").split(" ").indexOf(kind.value) !== -1;
      part.classList.toggle("kind-folded", !mine && empty(part));
    });
  }

  box.querySelectorAll(".threshold-row").forEach(function (row) {
    sync(row);
    row.addEventListener("change", function () { sync(row); });
  });
})();
