// Campaign composer: autosaves the draft (POST of the whole form, CSRF token from the form) a moment
// after each change, and shows what the server refused next to the form; on a new campaign, choosing
// a template reloads the page with that template's parameters. No inline code (CSP).
(function () {
  "use strict";
  var DELAY_MS = 1500;
  var form = document.getElementById("compose-form");
  if (!form) { return; }
  var status = form.querySelector("[data-autosave-status]");
  var url = form.dataset.autosaveUrl;
  var timer = null;
  var inFlight = false;
  var pending = false;

  function say(text, isError) {
    if (!status) { return; }
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function csrfToken() {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function save() {
    if (inFlight) { pending = true; return; }
    inFlight = true;
    say(form.dataset.savingText || "…");
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body: new FormData(form)
    })
      .then(function (response) { return response.json().then(function (data) { return [response, data]; }); })
      .then(function (pair) {
        var data = pair[1];
        var problems = [];
        Object.keys(data.errors || {}).forEach(function (key) {
          (data.errors[key] || []).forEach(function (message) { problems.push(message); });
        });
        form.dataset.autosaved = data.saved ? "true" : "false";
        if (!data.saved) {
          say(problems.join(" "), true);
        } else if (problems.length) {
          say((form.dataset.savedText || "Saved") + " " + data.saved_at + " — " + problems.join(" "), true);
        } else {
          say((form.dataset.savedText || "Saved") + " " + data.saved_at, false);
        }
      })
      .catch(function () { say(form.dataset.failedText || "Not saved", true); })
      .then(function () {
        inFlight = false;
        if (pending) { pending = false; save(); }
      });
  }

  function changed(event) {
    var target = event.target;
    if (target && target.matches("[data-template-select]")) {
      if (form.dataset.reloadOnTemplate && target.value) {
        window.location.search = "?template=" + encodeURIComponent(target.value);
        return;
      }
    }
    if (!url) { return; }
    window.clearTimeout(timer);
    timer = window.setTimeout(save, DELAY_MS);
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
})();
