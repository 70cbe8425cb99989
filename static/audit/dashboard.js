// Draws the dispatch dashboard from the JSON the server embedded (no network calls, no CDN).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  const palette = ["#417690", "#ba2121", "#79aec8", "#e0a526", "#5b8c5a", "#8e6c8a", "#c76b29", "#4f5b66"];
  function chart(id, config) {
    const node = document.getElementById(id);
    if (node) { new Chart(node, config); node.dataset.drawn = "true"; }
  }
  chart("chart-per-day", {
    type: "bar",
    data: { labels: data.days, datasets: [
      { label: "accepted", data: data.accepted, backgroundColor: palette[0] },
      { label: "refused", data: data.refused, backgroundColor: palette[1] },
    ] },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
  });
  chart("chart-override", {
    type: "line",
    data: { labels: data.days, datasets: [{ label: "override rate", data: data.override_rate, borderColor: palette[3] }] },
    options: { scales: { y: { beginAtZero: true } } },
  });
  const pie = (id, values) => chart(id, {
    type: "doughnut",
    data: { labels: Object.keys(values), datasets: [{ data: Object.values(values), backgroundColor: palette }] },
  });
  pie("chart-regions", data.regions);
  pie("chart-providers", data.providers);
  chart("chart-refusals", {
    type: "bar",
    data: { labels: Object.keys(data.refusals), datasets: [{ label: "refusals", data: Object.values(data.refusals), backgroundColor: palette[1] }] },
    options: { indexAxis: "y" },
  });
  chart("chart-latency", {
    type: "line",
    data: { labels: data.days, datasets: [
      { label: "average", data: data.latency_avg_ms, borderColor: palette[0], spanGaps: true },
      { label: "p95 (bucket bound)", data: data.latency_p95_ms, borderColor: palette[1], spanGaps: true },
    ] },
    options: { scales: { y: { beginAtZero: true } } },
  });
  chart("chart-cost", {
    type: "bar",
    data: { labels: data.days, datasets: [{ label: "cost", data: data.cost, backgroundColor: palette[4] }] },
    options: { scales: { y: { beginAtZero: true } } },
  });
})();
