/* Progress of a score import run (成绩导入). While the server says a run is active, poll the
   import's JSON progress endpoint once a second and update the <progress> bar and its text; when
   the run ends, reload the page to show its report. Reads only; never starts anything. */
(function () {
  "use strict";
  var box = document.getElementById("import-status");
  if (!box || box.getAttribute("data-active") !== "1" || !window.fetch) { return; }
  var url = box.getAttribute("data-progress-url");
  var bar = document.getElementById("import-progress");
  function set(field, text) {
    var node = box.querySelector('[data-field="' + field + '"]');
    if (node && text !== undefined && text !== null) { node.textContent = text; }
  }
  function number(n) { return Number(n).toLocaleString(); }
  function show(data) {
    set("state_label", data.state_label);
    set("run_label", data.run_label);
    set("phase_label", data.phase_label);
    if (bar) {
      if (data.percent === null) { bar.removeAttribute("value"); bar.textContent = ""; }
      else { bar.value = data.percent; bar.textContent = data.percent + "%"; }
    }
    set("rows", data.rows_total ? number(data.rows_done) + " / " + number(data.rows_total) : "");
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (data) {
        show(data);
        if (data.active) { setTimeout(poll, 1000); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
