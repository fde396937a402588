// The charts of a projection's result page (planning/result.html): the data come from the
// page's <script type="application/json" id="planning-data"> (json_script), so no inline
// script is needed and the Content-Security-Policy can forbid them.
(function () {
  if (typeof Chart === "undefined") return;
  var d = JSON.parse(document.getElementById("planning-data").textContent);
  var blue = "#1f5fa8", red = "#c0392b", colors = ["#7f8c8d", "#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400"];
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  function make(id, config) { var el = document.getElementById(id); if (el) new Chart(el, config); }
  // Axes that count persons show whole numbers only.
  var whole = {precision: 0};
  function pyramid(id, p) {
    var groups = p.groups.slice();
    make(id, {type: "bar", data: {labels: groups.reverse(), datasets: [
        {label: d.labels.male, data: p.male.slice().reverse().map(function (v) { return -Math.round(v); }), backgroundColor: blue},
        {label: d.labels.female, data: p.female.slice().reverse().map(function (v) { return Math.round(v); }), backgroundColor: red}]},
      options: {indexAxis: "y", scales: {x: {stacked: true, ticks: {precision: 0, callback: function (v) { return Math.abs(v).toLocaleString(); }}}, y: {stacked: true}},
        plugins: {tooltip: {callbacks: {label: function (c) { return c.dataset.label + " " + Math.abs(c.raw); }}}}}});
  }
  pyramid("chart-pyramid-base", d.base);
  pyramid("chart-pyramid-end", d.end);
  make("chart-fan", {type: "line", data: {labels: d.years, datasets: d.fan.map(function (s, i) {
    var c = colors[i % colors.length];
    return {label: s.label, data: s.values, borderColor: c, backgroundColor: c, pointRadius: 2};
  })}, options: {scales: {y: {ticks: whole}}}});
  if (d.backtest.years.length) {
    make("chart-backtest", {type: "line", data: {labels: d.backtest.years, datasets: [
      {label: d.labels.projected, data: d.backtest.projected, borderColor: blue, backgroundColor: blue},
      {label: d.labels.actual, data: d.backtest.actual, borderColor: red, backgroundColor: red}]},
      options: {scales: {y: {ticks: whole}}}});
  }
})();
