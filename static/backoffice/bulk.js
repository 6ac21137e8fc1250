// The progress bar of a running bulk job: polls the job's status, reloads when it is done.
(function () {
  "use strict";
  var box = document.querySelector(".bulk-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  function set(id, value) { var el = document.getElementById(id); if (el) { el.textContent = value; } }
  function poll() {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (job) {
      var bar = document.getElementById("job-progress");
      bar.max = job.total || 1; bar.value = job.processed;
      set("job-processed", job.processed); set("job-succeeded", job.succeeded); set("job-failed", job.failed);
      if (job.status === "done") { window.location.reload(); } else { window.setTimeout(poll, 1000); }
    }).catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
})();
