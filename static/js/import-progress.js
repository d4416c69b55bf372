// Progress of a contact import: polls the JSON endpoint named by [data-import-progress] every second
// (static/js/progress-poll.js) and updates the bar and figures; reloads the page once the import has
// finished (the server then renders the summary). No inline code (CSP). Without JavaScript the page
// shows the same figures.
(function () {
  "use strict";

  window.progressPoll.start({
    selector: "[data-import-progress]",
    intervalMs: 1000,
    maxDelayMs: 10000,
    setup: function (panel) {
      return {
        show: function (data) {
          var fields = { percent: String(data.percent), status_label: data.status_label };
          Object.keys(data.display || {}).forEach(function (key) { fields[key] = data.display[key]; });
          Object.keys(fields).forEach(function (key) { window.progressPoll.setField(panel, key, fields[key]); });
          panel.dataset.status = data.status;
          panel.dataset.percent = String(data.percent);
        },
        reload: function (data) {
          if (data.finished) { panel.dataset.finished = "true"; }
          return Boolean(data.finished);
        },
      };
    },
  });
})();
