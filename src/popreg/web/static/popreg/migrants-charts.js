// The charts of the migrants overview (migrants/index.html): the data come from the page's
// <script type="application/json" id="migrants-data"> (json_script), so no inline script is
// needed and the Content-Security-Policy can forbid them.
(function () {
  if (typeof Chart === "undefined") return;
  var el = document.getElementById("migrants-data");
  if (!el) return;
  var d = JSON.parse(el.textContent);
  var blue = "#1f5fa8", red = "#c0392b", green = "#2e8b57", grey = "#7f8c8d";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  // Every chart here counts persons: its value axis shows whole numbers only.
  function make(id, config) {
    var c = document.getElementById(id);
    if (!c) return;
    var o = config.options = config.options || {};
    var axis = o.indexAxis === "y" ? "x" : "y";
    o.scales = o.scales || {};
    o.scales[axis] = o.scales[axis] || {};
    o.scales[axis].ticks = {precision: 0};
    new Chart(c, config);
  }
  make("chart-origin", {type: "bar", data: {labels: d.origins, datasets: [{label: d.labels["in"], data: d.origin_counts, backgroundColor: blue}]},
    options: {indexAxis: "y", plugins: {legend: {display: false}}}});
  make("chart-destination", {type: "bar", data: {labels: d.destinations, datasets: [{label: d.labels.out, data: d.destination_counts, backgroundColor: green}]},
    options: {indexAxis: "y", plugins: {legend: {display: false}}}});
  make("chart-duration", {type: "bar", data: {labels: d.durations, datasets: [
      {label: d.labels["in"], data: d.in_duration, backgroundColor: blue},
      {label: d.labels.out, data: d.out_duration, backgroundColor: green}]}});
  make("chart-age", {type: "bar", data: {labels: d.ages, datasets: [
      {label: d.labels["in"] + " · " + d.labels.male, data: d.in_male, backgroundColor: blue, stack: "in"},
      {label: d.labels["in"] + " · " + d.labels.female, data: d.in_female, backgroundColor: red, stack: "in"},
      {label: d.labels.out + " · " + d.labels.male, data: d.out_male, backgroundColor: "#6f9fd8", stack: "out"},
      {label: d.labels.out + " · " + d.labels.female, data: d.out_female, backgroundColor: "#e59086", stack: "out"}]},
    options: {scales: {x: {stacked: true}, y: {stacked: true}}}});
  if (d.children.length) {
    make("chart-units", {type: "bar", data: {labels: d.children, datasets: [
        {label: d.labels["in"], data: d.child_in, backgroundColor: blue},
        {label: d.labels.out, data: d.child_out, backgroundColor: grey}]}});
  }
})();
