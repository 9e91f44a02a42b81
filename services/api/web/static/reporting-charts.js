// Draws a chart (Chart.js, vendored beside this file) from each report table marked data-chart.
// The table stays on the page as the chart's accessible source; the canvas only repeats it.
(function () {
  "use strict";
  var palette = ["#1f5f8b", "#d9822b", "#3c8d4f", "#8e44ad", "#c0392b", "#7f8c8d"];
  function draw(figure) {
    var canvas = figure.querySelector("canvas");
    var table = figure.querySelector("table");
    if (!canvas || !table || typeof Chart === "undefined") return;
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); }).slice(1);
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    var labels = rows.map(function (tr) { return tr.querySelector("th").textContent.trim(); });
    var columns = rows.length ? rows[0].querySelectorAll("td").length : 0;
    if (!heads.length) heads = [table.querySelector("caption").textContent.trim()];
    var kind = figure.getAttribute("data-chart");
    var datasets = [];
    for (var c = 0; c < columns && c < 4; c++) {
      datasets.push({
        label: heads[c],
        data: rows.map(function (tr) { var v = tr.querySelectorAll("td")[c].getAttribute("data-value"); return v === "" ? null : Number(v); }),
        backgroundColor: palette[c % palette.length],
        borderColor: palette[c % palette.length],
        tension: 0.2
      });
    }
    new Chart(canvas, {
      type: kind === "line" ? "line" : "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        locale: document.documentElement.lang || "de",
        indexAxis: kind === "line" ? "x" : "y",
        // Counts never go below zero: without this an empty series is drawn from -1 to 1.
        scales: kind === "line"
          ? { y: { beginAtZero: true, suggestedMax: 1, ticks: { precision: 0 } } }
          : { x: { beginAtZero: true, suggestedMax: 1, ticks: { precision: 0 } } },
        plugins: { legend: { display: datasets.length > 1 } }
      }
    });
    figure.setAttribute("data-drawn", "true");
  }
  function all() { document.querySelectorAll("figure[data-chart]").forEach(draw); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all); else all();
})();
