// The charts of a unit's statistics page (stats/unit.html): the data come from the page's
// <script type="application/json" id="stats-data"> (json_script), so no inline script is needed
// and the Content-Security-Policy can forbid them.
(function () {
  if (typeof Chart === "undefined") return;
  var d = JSON.parse(document.getElementById("stats-data").textContent);
  var blue = "#1f5fa8", red = "#c0392b", green = "#2e8b57";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  function make(id, config) { var el = document.getElementById(id); if (el) new Chart(el, config); }
  // Axes that count persons or events show whole numbers only (no tick of 157,306.6 persons).
  var whole = {precision: 0};
  var groups = d.pyramid.groups.slice();
  make("chart-pyramid", {type: "bar", data: {labels: groups.reverse(), datasets: [
      {label: d.labels.male, data: d.pyramid.male.slice().reverse().map(function (v) { return -v; }), backgroundColor: blue},
      {label: d.labels.female, data: d.pyramid.female.slice().reverse(), backgroundColor: red}]},
    options: {indexAxis: "y", scales: {x: {stacked: true, ticks: {precision: 0, callback: function (v) { return Math.abs(v).toLocaleString(); }}}, y: {stacked: true}},
      plugins: {tooltip: {callbacks: {label: function (c) { return c.dataset.label + " " + Math.abs(c.raw); }}}}}});
  make("chart-population", {type: "line", data: {labels: d.years, datasets: [{label: d.labels.population_end, data: d.population, borderColor: blue, backgroundColor: blue}]},
    options: {scales: {y: {ticks: whole}}}});
  make("chart-vital", {type: "bar", data: {labels: d.years, datasets: [
      {label: d.labels.births, data: d.births, backgroundColor: green}, {label: d.labels.deaths, data: d.deaths, backgroundColor: "#7f8c8d"}]},
    options: {scales: {y: {ticks: whole}}}});
  make("chart-rates", {type: "line", data: {labels: d.years, datasets: [
      {label: d.labels.cbr, data: d.cbr, borderColor: green, backgroundColor: green},
      {label: d.labels.cdr, data: d.cdr, borderColor: "#7f8c8d", backgroundColor: "#7f8c8d"},
      {label: d.labels.rni, data: d.rni, borderColor: blue, backgroundColor: blue}]}});
  make("chart-srb", {type: "line", data: {labels: d.years, datasets: [
      {label: d.labels.srb_high, data: d.srb_high, borderColor: "rgba(31,95,168,.25)", backgroundColor: "rgba(31,95,168,.15)", fill: "+1", pointRadius: 0},
      {label: d.labels.srb_low, data: d.srb_low, borderColor: "rgba(31,95,168,.25)", pointRadius: 0},
      {label: d.labels.srb, data: d.srb, borderColor: red, backgroundColor: red}]},
    options: {plugins: {legend: {labels: {filter: function (item) { return item.text === d.labels.srb; }}}}}});
  if (d.comparison.names.length) {
    make("chart-comparison", {type: "bar", data: {labels: d.comparison.names, datasets: [{label: d.comparison.label, data: d.comparison.values, backgroundColor: blue}]},
      options: {plugins: {legend: {display: false}}, scales: {y: {ticks: d.comparison.values.every(function (v) { return v === null || Number.isInteger(v); }) ? whole : {}}}}});
  }
})();
