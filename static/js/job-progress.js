// Progress of a job shown on its page (a contact import, a message-log export, an evidence pack):
// polls the JSON endpoint named by the [data-job-progress] panel's data-url every second
// (static/js/progress-poll.js), writes its figures into the panel's [data-field] elements, and
// reloads the page once the job has finished (the server then renders the summary, the download or
// the error). No inline code (CSP). Without JavaScript the page shows the same figures on reload.
(function () {
  "use strict";

  window.progressPoll.start({
    selector: "[data-job-progress]",
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
