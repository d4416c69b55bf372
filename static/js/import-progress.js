// Progress of a contact import: polls the JSON endpoint named by [data-import-progress] every second
// and updates the bar and figures; reloads the page once the import has finished (the server then
// renders the summary). No inline code (CSP). Without JavaScript the page shows the same figures.
(function () {
  "use strict";
  var INTERVAL_MS = 1000;

  function start(panel) {
    var url = panel.dataset.url;
    var bar = panel.querySelector("progress");
    var failures = 0;

    function show(data) {
      if (bar) {
        bar.value = data.percent;
        bar.textContent = data.percent + " %";
      }
      var fields = { percent: String(data.percent), status_label: data.status_label };
      Object.keys(data.display || {}).forEach(function (key) { fields[key] = data.display[key]; });
      Object.keys(fields).forEach(function (key) {
        panel.querySelectorAll('[data-field="' + key + '"]').forEach(function (node) {
          node.textContent = fields[key];
        });
      });
      panel.dataset.status = data.status;
      panel.dataset.percent = String(data.percent);
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          show(data);
          if (data.finished) {
            panel.dataset.finished = "true";
            window.location.reload();
            return;
          }
          window.setTimeout(poll, INTERVAL_MS);
        })
        .catch(function () {
          failures += 1;  // a restarting server: keep trying, more slowly
          window.setTimeout(poll, Math.min(INTERVAL_MS * (1 + failures), 10000));
        });
    }

    window.setTimeout(poll, INTERVAL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-import-progress]").forEach(function (panel) {
      if (panel.dataset.finished !== "true") { start(panel); }
    });
  });
})();
