/* Web push toggle of the profile page (no dependencies).
 *
 * Binds to every element [data-push-toggle] (a button) with:
 *   data-vapid-key         the server's VAPID public key (urlsafe base64); empty: push is off
 *   data-sw-url            the service worker's URL (registered with scope "/")
 *   data-subscribe-url     POST the browser's PushSubscription JSON here
 *   data-unsubscribe-url   POST {"endpoint"} here
 *   data-label-on          text shown while push is on for this browser
 *   data-label-off         text shown while it is off
 *   data-subscribed        optional "true"/"false": what the server knows, shown until
 *                          the browser has answered
 * Both POSTs carry the X-CSRFToken header (from the csrftoken cookie) and expect a 2xx
 * JSON answer {"subscribed": bool}. Without a PushManager or a VAPID key, the toggle
 * hides itself and shows the element [data-push-unsupported] instead.
 * Each change fires a "push:change" event on the toggle with detail {subscribed}.
 * When a change fails, the element [data-push-status] says why, in the page (not only the
 * console), with the toggle's texts:
 *   data-error-denied      the browser's permission for notifications is refused
 *   data-error-server      the server refused (its own "detail" follows the text)
 *   data-error-failed      anything else (no connection, the push service failed)
 * and a "push:error" event fires with detail {reason: "denied"|"server"|"failed"}.
 */
(function () {
  "use strict";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function keyBytes(base64) {
    var padded = (base64 + "===".slice((base64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () {
          return {};
        }).then(function (body) {
          var error = new Error("push: the server answered " + response.status);
          error.reason = "server";
          error.detail = (body && body.detail) || "";
          throw error;
        });
      }
      return response.json();
    });
  }

  function unsupported(toggle) {
    toggle.hidden = true;
    document.querySelectorAll("[data-push-unsupported]").forEach(function (element) {
      element.hidden = false;
    });
  }

  function status(toggle, reason, detail) {
    var text = "";
    if (reason) {
      var key = "error" + reason.charAt(0).toUpperCase() + reason.slice(1);
      text = toggle.dataset[key] || toggle.dataset.errorFailed || "";
      if (detail) {
        text += " " + detail;
      }
    }
    document.querySelectorAll("[data-push-status]").forEach(function (element) {
      element.textContent = text;
      element.hidden = !text;
    });
    if (reason) {
      toggle.dispatchEvent(new CustomEvent("push:error", { detail: { reason: reason } }));
    }
  }

  function reasonOf(error) {
    if (error && error.reason) {
      return error.reason;
    }
    if ((error && error.name === "NotAllowedError") ||
        (window.Notification && window.Notification.permission === "denied")) {
      return "denied";
    }
    return "failed";
  }

  function show(toggle, subscribed) {
    toggle.textContent = subscribed ? toggle.dataset.labelOn || "" : toggle.dataset.labelOff || "";
    toggle.setAttribute("aria-pressed", subscribed ? "true" : "false");
    toggle.dataset.subscribed = subscribed ? "true" : "false";
    toggle.dispatchEvent(new CustomEvent("push:change", { detail: { subscribed: subscribed } }));
  }

  function bind(toggle) {
    var vapidKey = (toggle.dataset.vapidKey || "").trim();
    if (!vapidKey || !("serviceWorker" in navigator) || !("PushManager" in window)) {
      unsupported(toggle);
      return;
    }
    var busy = false;
    show(toggle, toggle.dataset.subscribed === "true");
    if (window.Notification && window.Notification.permission === "denied") {
      status(toggle, "denied");
    }
    var ready = navigator.serviceWorker
      .register(toggle.dataset.swUrl, { scope: "/" })
      .then(function () {
        return navigator.serviceWorker.ready;
      });

    ready
      .then(function (registration) {
        return registration.pushManager.getSubscription();
      })
      .then(function (subscription) {
        // On only if this browser is subscribed and the server did not say otherwise.
        show(toggle, Boolean(subscription) && toggle.dataset.subscribed !== "false");
      })
      .catch(function (error) {
        console.warn("push: service worker not available", error);
        unsupported(toggle);
      });

    function subscribe(registration) {
      return registration.pushManager
        .subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(vapidKey) })
        .then(function (subscription) {
          return post(toggle.dataset.subscribeUrl, subscription.toJSON());
        });
    }

    function unsubscribe(registration) {
      return registration.pushManager.getSubscription().then(function (subscription) {
        if (!subscription) {
          return { subscribed: false };
        }
        var endpoint = subscription.endpoint;
        return subscription.unsubscribe().then(function () {
          return post(toggle.dataset.unsubscribeUrl, { endpoint: endpoint });
        });
      });
    }

    toggle.addEventListener("click", function (event) {
      event.preventDefault();
      if (busy) {
        return;
      }
      busy = true;
      toggle.setAttribute("aria-busy", "true");
      var wanted = toggle.dataset.subscribed !== "true";
      ready
        .then(function (registration) {
          return wanted ? subscribe(registration) : unsubscribe(registration);
        })
        .then(function (answer) {
          status(toggle, "");
          show(toggle, Boolean(answer && answer.subscribed));
        })
        .catch(function (error) {
          // Permission refused, or the server said no: the state stays as it was, and the
          // page says why.
          console.warn("push:", error);
          show(toggle, !wanted);
          status(toggle, reasonOf(error), error && error.detail);
        })
        .then(function () {
          busy = false;
          toggle.removeAttribute("aria-busy");
        });
    });
  }

  function start() {
    document.querySelectorAll("[data-push-toggle]").forEach(bind);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
