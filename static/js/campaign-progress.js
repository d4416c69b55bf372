// Live progress of a campaign: polls the read-only JSON endpoint named by [data-campaign-progress]
// every 2 seconds (static/js/progress-poll.js) and updates the bar and the figures in place. When the
// campaign changes status (started, paused, completed, cancelled) the page reloads once, so the
// server renders the controls that fit the new status. No inline code (CSP); without JavaScript the
// page shows the same figures and a refresh link.
(function () {
  "use strict";
  var FIGURES = ["percent", "done", "total", "status_label", "queued", "in_flight", "sent", "delivered",
    "failed", "expired", "failed_over", "unconfirmed", "bad_reports", "waiting"];

  window.progressPoll.start({
    selector: "[data-campaign-progress]",
    intervalMs: 2000,
    maxDelayMs: 15000,
    setup: function (panel) {
      var status = panel.dataset.status;
      var started = panel.querySelector("progress") !== null;

      function setField(key, value) { window.progressPoll.setField(panel, key, value); }

      return {
        show: function (data) {
          FIGURES.forEach(function (key) {
            setField(key, data[key] === null || data[key] === undefined ? "" : String(data[key]));
          });
          var display = data.display || {};
          setField("rate_text", display.rate || "—");
          setField("eta_text", display.eta || "—");
          setField("wait_until_text", display.wait_until ? "(" + display.wait_until + ")" : "");
          var waiting = panel.querySelector('[data-testid="waiting"]');
          if (waiting) { waiting.hidden = !data.waiting; }
          panel.dataset.percent = String(data.percent);
        },
        reload: function (data) {
          var changed = data.status !== status || data.started !== started || data.finished;
          if (changed) { panel.dataset.finished = data.finished ? "true" : "false"; }
          return Boolean(changed);
        },
      };
    },
  });
})();
