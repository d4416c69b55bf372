// Renders every [data-chart] element from the json_script block it names. No inline code (CSP).
(function () {
  "use strict";
  function render(element) {
    var source = document.getElementById(element.dataset.chart);
    if (!source || !window.Plotly) { return; }
    var figure = JSON.parse(source.textContent);
    var config = { responsive: true, displaylogo: false, locale: document.documentElement.lang };
    window.Plotly.newPlot(element, figure.data, figure.layout || {}, config).then(function () {
      element.dataset.rendered = "true";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart]").forEach(render);
  });
})();
