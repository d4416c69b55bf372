// Progress of a message log export: polls the JSON endpoint named by [data-log-export-progress]
// (static/js/progress-poll.js) every second and updates the bar and figures; reloads the page once
// the file is ready or the export failed (the server then renders the download link or the error).
// No inline code (CSP). Without JavaScript the page shows the same figures on reload.
(function () {
  "use strict";

  window.progressPoll.start({
    selector: "[data-log-export-progress]",
    intervalMs: 1000,
    maxDelayMs: 10000,
    setup: function (panel) {
      return {
        show: function (data) {
          var fields = { percent: String(data.percent), status_label: data.status_label };
          Object.keys(data.display || {}).forEach(function (key) { fields[key] = data.display[key]; });
          Object.keys(fields).forEach(function (key) { window.progressPoll.setField(panel, key, fields[key]); });
          panel.dataset.status = data.status;
        },
        reload: function (data) {
          if (data.finished) { panel.dataset.finished = "true"; }
          return Boolean(data.finished);
        },
      };
    },
  });
})();
