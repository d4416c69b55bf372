// Renders every [data-chart] element from the json_script block it names (templates/includes/chart.html).
// No inline code (CSP). A rendered chart gets data-rendered="true"; a figure that fails to draw logs
// one console error naming it (the browser tests fail on console errors).
(function () {
  "use strict";
  var PHONE = 600;

  function narrow(layout) {
    // On a phone the side margins of a desktop layout eat the plot: keep just enough for tick labels.
    if (window.innerWidth > PHONE) { return layout; }
    var copy = Object.assign({}, layout);
    copy.margin = Object.assign({}, layout.margin || {}, { l: 44, r: 8 });
    if (copy.yaxis2) { copy.margin.r = 44; }
    return copy;
  }

  function render(element) {
    var source = document.getElementById(element.dataset.chart);
    if (!source || !window.Plotly) {
      console.error("chart " + element.dataset.chart + ": no figure data or plotly.js missing");
      return;
    }
    var figure = JSON.parse(source.textContent);
    var config = {
      responsive: true,
      displaylogo: false,
      displayModeBar: false,
      locale: document.documentElement.lang
    };
    var layout = narrow(Object.assign({ autosize: true }, figure.layout || {}));
    window.Plotly.newPlot(element, figure.data || [], layout, config).then(function () {
      element.dataset.rendered = "true";
    }, function (error) {
      console.error("chart " + element.dataset.chart + ": " + error);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart]").forEach(render);
  });
})();
