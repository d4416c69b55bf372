// Segment builder: add and remove filter rows in place. Without this script the same buttons
// work as a plain form ("Add a filter row" submits and the page comes back with one more row;
// a row's "remove" box drops it on the next submit).
(function () {
  "use strict";
  var form = document.querySelector("[data-segment-builder]");
  if (!form) return;
  var rows = form.querySelector("[data-rule-rows]");
  var template = form.querySelector("[data-rule-template]");
  var counter = form.querySelector("[data-row-count]");
  var addButton = form.querySelector("[data-add-row]");

  function renumber() {
    rows.querySelectorAll("[data-rule-number]").forEach(function (number, position) {
      number.textContent = String(position + 1);
    });
  }

  if (addButton && template && counter) {
    addButton.addEventListener("click", function (event) {
      event.preventDefault();
      var index = parseInt(counter.value, 10) || 0;
      var html = template.innerHTML.split("__index__").join(String(index));
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var row = holder.firstElementChild;
      rows.appendChild(row);
      counter.value = String(index + 1);
      renumber();
      var select = row.querySelector("select");
      if (select) select.focus();
    });
  }

  rows.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches("[data-remove-row]") || !box.checked) return;
    var row = box.closest("[data-rule-row]");
    if (row) row.remove(); // its fields are gone, so the server skips the row
    renumber();
  });
})();
