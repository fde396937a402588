/* The job progress component (registry/_job_progress.html): polls /jobs/<id>/progress/
   while the job is queued or running and updates stage, bar, messages, error, result link,
   cancel and retry.  No inline script, no dependencies. */
(function () {
  "use strict";

  function field(box, name) { return box.querySelector('[data-job-field="' + name + '"]'); }

  function render(box, d) {
    field(box, "kind_label").textContent = d.kind_label;
    var state = field(box, "state_label");
    state.textContent = d.state_label;
    state.className = "job-state job-" + d.state;
    field(box, "stage").textContent = d.stage;
    var bar = field(box, "bar");
    if (d.percent === null) { bar.removeAttribute("value"); } else { bar.value = d.percent; }
    field(box, "count").textContent = d.total ? d.done.toLocaleString() + " / " + d.total.toLocaleString() : "";
    var list = field(box, "messages");
    while (list.firstChild) { list.removeChild(list.firstChild); }
    d.messages.forEach(function (m) {
      var li = document.createElement("li");
      li.className = m.level;
      li.textContent = m.text;
      list.appendChild(li);
    });
    var err = field(box, "error");
    err.textContent = d.error;
    err.hidden = !d.error;
    var result = field(box, "result");
    result.hidden = !d.result_url;
    if (d.result_url) { result.querySelector("a").href = d.result_url; }
    field(box, "cancel").hidden = !d.can_cancel;
    field(box, "retry").hidden = !d.can_retry;
    box.dataset.state = d.state;
  }

  function watch(box) {
    var wasActive = box.dataset.state === "queued" || box.dataset.state === "running";
    function poll() {
      fetch(box.dataset.jobProgress, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (d) {
          render(box, d);
          if (d.active) { wasActive = true; setTimeout(poll, 1000); return; }
          box.dispatchEvent(new CustomEvent("job:finished", {bubbles: true, detail: d}));
          if (wasActive && box.dataset.reload) { window.location.reload(); }
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    if (wasActive) { setTimeout(poll, 500); }
    // After a retry (a plain form post) the page comes back with the job queued again.
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-job-progress]"), function (box) {
      if (!box.dataset.jobWatched) { box.dataset.jobWatched = "1"; watch(box); }
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
