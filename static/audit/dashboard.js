// Draws the dispatch dashboard from the JSON the server embedded (no network calls, no CDN).
// Counts have integer ticks; a day without traffic has no override rate (a gap, not 0 %); a series
// with a single point is drawn as a bar, not a stray dot; over 90 days, daily bars are summed per
// week so they stay readable; a click on a bar or slice opens the matching audit log rows.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const links = document.getElementById("dashboard-links").dataset;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  const palette = ["#417690", "#ba2121", "#79aec8", "#e0a526", "#5b8c5a", "#8e6c8a", "#c76b29", "#4f5b66"];
  const counts = { beginAtZero: true, ticks: { precision: 0 } };

  function auditUrl(params) {
    const query = new URLSearchParams(params);
    // A slice or a refusal bar is the whole range: its rows, bounded on both ends like the charts.
    if (!query.has("created_at__gte")) {
      query.set("created_at__gte", data.days[0]);
      query.set("created_at__lt", nextDay(data.days[data.days.length - 1], 1));
    }
    if (links.region) { query.set("region", links.region); }
    return links.changelist + "?" + query.toString();
  }
  function nextDay(iso, days) {
    const d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }
  function chart(id, config, onPick) {
    const node = document.getElementById(id);
    if (!node) { return; }
    if (onPick) {
      config.options = Object.assign({}, config.options, {
        onClick: function (event, elements, instance) {
          if (!elements.length) { return; }
          const url = onPick(elements[0].index, elements[0].datasetIndex, instance);
          if (url) { node.dataset.lastLink = url; window.location.assign(url); }
        },
        onHover: function (event, elements) { event.native.target.style.cursor = elements.length ? "pointer" : "default"; },
      });
    }
    new Chart(node, config);
    node.dataset.drawn = "true";
  }

  // Over 90 days: one bar per week (summed), labelled with the week's first day.
  const weekly = data.days.length > 90;
  const step = weekly ? 7 : 1;
  function buckets(values) {
    if (!weekly) { return values.slice(); }
    const out = [];
    for (let i = 0; i < values.length; i += step) {
      out.push(values.slice(i, i + step).reduce(function (a, b) { return a + (b || 0); }, 0));
    }
    return out;
  }
  const bucketDays = weekly ? data.days.filter(function (_, i) { return i % step === 0; }) : data.days;
  const dayRange = function (index) {
    const first = bucketDays[index];
    const last = index + 1 < bucketDays.length ? bucketDays[index + 1] : nextDay(data.days[data.days.length - 1], 1);
    return { created_at__gte: first, created_at__lt: weekly ? last : nextDay(first, 1) };
  };
  const barOptions = { barPercentage: 0.95, categoryPercentage: 0.95 };
  // Long labels (refusals in plain words) on several lines instead of cut off.
  function wrap(text) {
    const lines = [];
    text.split(" ").forEach(function (word) {
      const last = lines.length - 1;
      if (last >= 0 && (lines[last] + " " + word).length <= 26) { lines[last] += " " + word; } else { lines.push(word); }
    });
    return lines;
  }

  chart("chart-per-day", {
    type: "bar",
    data: { labels: bucketDays, datasets: [
      Object.assign({ label: "accepted", data: buckets(data.accepted), backgroundColor: palette[0] }, barOptions),
      Object.assign({ label: "refused", data: buckets(data.refused), backgroundColor: palette[1] }, barOptions),
    ] },
    options: { scales: { x: { stacked: true, title: { display: weekly, text: "week starting" } }, y: Object.assign({ stacked: true }, counts) } },
  }, function (index, dataset) {
    return auditUrl(Object.assign(dayRange(index), { outcome: dataset === 0 ? "accepted" : "refused" }));
  });

  // Lines: a series with a single point is a bar (a lone dot on an empty axis reads as noise).
  function points(values) { return values.filter(function (v) { return v !== null && v !== undefined; }).length; }
  function series(id, datasets, yOptions, onPick) {
    const single = datasets.every(function (d) { return points(d.data) <= 1; });
    datasets.forEach(function (d) {
      d.spanGaps = false;
      d.pointRadius = 2;
      if (single) { d.backgroundColor = d.borderColor; }
    });
    chart(id, { type: single ? "bar" : "line", data: { labels: data.days, datasets: datasets }, options: { scales: { y: yOptions } } }, onPick);
  }
  series("chart-override", [{ label: "override rate (%)", data: data.override_rate.map(function (r) { return r === null ? null : Math.round(r * 1000) / 10; }), borderColor: palette[3] }],
    { beginAtZero: true, suggestedMax: 100, ticks: { callback: function (v) { return v + " %"; } } },
    function (index) {
      const day = data.days[index];
      return auditUrl({ created_at__gte: day, created_at__lt: nextDay(day, 1), is_override__exact: "1" });
    });

  const pie = function (id, values, param, key, names) {
    chart(id, {
      type: "doughnut",
      data: { labels: Object.keys(values).map(function (k) { return (names && names[k]) || k; }), datasets: [{ data: Object.values(values), backgroundColor: palette }] },
    }, function (index) {
      const name = Object.keys(values)[index];
      const query = {};
      query[param] = key ? key(name) : name;
      return auditUrl(query);
    });
  };
  pie("chart-regions", data.regions, "region", null, data.labels);
  pie("chart-providers", data.providers, "provider__id__exact", function (name) { return data.provider_ids[name]; });
  chart("chart-refusals", {
    type: "bar",
    data: { labels: Object.keys(data.refusals).map(function (k) { return wrap(data.labels[k] || k); }), datasets: [Object.assign({ label: "refusals", data: Object.values(data.refusals), backgroundColor: palette[1] }, barOptions)] },
    options: { indexAxis: "y", scales: { x: counts } },
  }, function (index) { return auditUrl({ refusal_code: Object.keys(data.refusals)[index] }); });
  series("chart-latency", [
    { label: "average", data: data.latency_avg_ms, borderColor: palette[0] },
    { label: "p95 (bucket bound)", data: data.latency_p95_ms, borderColor: palette[1] },
  ], { beginAtZero: true });
  chart("chart-cost", {
    type: "bar",
    data: { labels: bucketDays, datasets: [Object.assign({ label: "cost", data: buckets(data.cost), backgroundColor: palette[4] }, barOptions)] },
    options: { scales: { y: { beginAtZero: true } } },
  }, function (index) { return auditUrl(Object.assign(dayRange(index), { outcome: "accepted" })); });
})();
