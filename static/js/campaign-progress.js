// Live progress of a campaign: polls the read-only JSON endpoint named by [data-campaign-progress]
// every 2 seconds and updates the bar and the figures in place. When the campaign changes status
// (started, paused, completed, cancelled) the page reloads once, so the server renders the controls
// that fit the new status. No inline code (CSP); without JavaScript the page shows the same figures
// and a refresh link.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;

  function start(panel) {
    var url = panel.dataset.url;
    var status = panel.dataset.status;
    var started = panel.querySelector("progress") !== null;
    var failures = 0;

    function setField(key, value) {
      panel.querySelectorAll('[data-field="' + key + '"]').forEach(function (node) {
        node.textContent = value;
      });
    }

    function show(data) {
      var bar = panel.querySelector("progress");
      if (bar) {
        bar.value = data.percent;
        bar.textContent = data.percent + " %";
      }
      ["percent", "done", "total", "status_label", "queued", "in_flight", "sent", "delivered", "failed",
       "expired", "failed_over", "unconfirmed", "bad_reports", "waiting"].forEach(function (key) {
        setField(key, data[key] === null || data[key] === undefined ? "" : String(data[key]));
      });
      var display = data.display || {};
      setField("rate_text", display.rate || "—");
      setField("eta_text", display.eta || "—");
      setField("wait_until_text", display.wait_until ? "(" + display.wait_until + ")" : "");
      var waiting = panel.querySelector('[data-testid="waiting"]');
      if (waiting) { waiting.hidden = !data.waiting; }
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
          if (data.status !== status || data.started !== started || data.finished) {
            panel.dataset.finished = data.finished ? "true" : "false";
            window.location.reload();
            return;
          }
          window.setTimeout(poll, INTERVAL_MS);
        })
        .catch(function () {
          failures += 1;  // a restarting server: keep trying, more slowly
          window.setTimeout(poll, Math.min(INTERVAL_MS * (1 + failures), 15000));
        });
    }

    window.setTimeout(poll, INTERVAL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-campaign-progress]").forEach(function (panel) {
      if (panel.dataset.finished !== "true") { start(panel); }
    });
  });
})();
