// Progress of an evidence pack: polls the JSON endpoint named by [data-evidence-progress] every
// second (static/js/progress-poll.js), updates the bar and figures, and reloads the page once the
// pack is built or has failed (the server then renders the download). No inline code (CSP).
(function () {
  "use strict";

  window.progressPoll.start({
    selector: "[data-evidence-progress]",
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
