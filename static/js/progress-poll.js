// The polling both live progress pages share (contact imports, campaigns): every [selector] panel
// not yet finished polls the JSON endpoint of its data-url, hands each answer to the page's own
// `show`, and reloads the page once `reload(data)` says so (the server then renders what fits the
// new state). A failing request is retried more slowly, up to `maxDelayMs` (a restarting server).
// No inline code (CSP).
(function () {
  "use strict";

  function setField(panel, key, value) {
    panel.querySelectorAll('[data-field="' + key + '"]').forEach(function (node) {
      node.textContent = value;
    });
  }

  function showBar(panel, percent) {
    var bar = panel.querySelector("progress");
    if (bar) {
      bar.value = percent;
      bar.textContent = percent + " %";
    }
  }

  function watch(panel, options, page) {
    var url = panel.dataset.url;
    var failures = 0;

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          showBar(panel, data.percent);
          page.show(data);
          if (page.reload(data)) {
            window.location.reload();
            return;
          }
          window.setTimeout(poll, options.intervalMs);
        })
        .catch(function () {
          failures += 1;
          window.setTimeout(poll, Math.min(options.intervalMs * (1 + failures), options.maxDelayMs));
        });
    }

    window.setTimeout(poll, options.intervalMs);
  }

  // options: {selector, intervalMs, maxDelayMs, setup(panel) -> {show(data), reload(data) -> bool}}
  window.progressPoll = {
    setField: setField,
    start: function (options) {
      document.addEventListener("DOMContentLoaded", function () {
        document.querySelectorAll(options.selector).forEach(function (panel) {
          if (panel.dataset.finished !== "true") { watch(panel, options, options.setup(panel)); }
        });
      });
    },
  };
})();
