// Draws a chart (Chart.js, vendored beside this file) from each report table marked data-chart.
// The table stays on the page as the chart's accessible source; the canvas only repeats it.
(function () {
  "use strict";
  var palette = ["#1f5f8b", "#d9822b", "#3c8d4f", "#8e44ad", "#c0392b", "#7f8c8d"];
  // A suppressed count ("< 3") comes without its number: a bar is drawn hatched over the band
  // below three, a point hollow in the middle of that band, and its tooltip says "< 3".
  var BAND = [0, 3];
  var BAND_POINT = 1.5;
  function hatch(colour) {
    var tile = document.createElement("canvas");
    tile.width = tile.height = 8;
    var ctx = tile.getContext("2d");
    ctx.fillStyle = "rgba(255, 255, 255, 0.6)";
    ctx.fillRect(0, 0, 8, 8);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(0, 8); ctx.lineTo(8, 0);
    ctx.moveTo(-2, 2); ctx.lineTo(2, -2);
    ctx.moveTo(6, 10); ctx.lineTo(10, 6);
    ctx.stroke();
    return ctx.createPattern(tile, "repeat");
  }
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
    var line = kind === "line";
    for (var c = 0; c < columns && c < 4; c++) {
      var colour = palette[c % palette.length];
      var cells = rows.map(function (tr) { return tr.querySelectorAll("td")[c]; });
      var hidden = cells.map(function (td) { return td.hasAttribute("data-suppressed"); });
      datasets.push({
        label: heads[c],
        belowThree: hidden,
        data: cells.map(function (td, i) {
          if (hidden[i]) return line ? BAND_POINT : BAND;
          var v = td.getAttribute("data-value");
          return v === "" ? null : Number(v);
        }),
        backgroundColor: hidden.some(Boolean) ? hidden.map(function (h) { return h ? hatch(colour) : colour; }) : colour,
        borderColor: colour,
        borderWidth: line ? 2 : hidden.map(function (h) { return h ? 1 : 0; }),
        pointBackgroundColor: hidden.map(function (h) { return h ? "#fff" : colour; }),
        pointRadius: hidden.map(function (h) { return h ? 5 : 3; }),
        segment: {
          borderDash: function (ctx) {
            var below = ctx.chart.data.datasets[ctx.datasetIndex].belowThree;
            return below[ctx.p0DataIndex] || below[ctx.p1DataIndex] ? [4, 4] : undefined;
          }
        },
        tension: 0.2
      });
    }
    new Chart(canvas, {
      type: line ? "line" : "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        locale: document.documentElement.lang || "de",
        // "bar": one bar per row, lying; "columns": standing, for months side by side.
        indexAxis: kind === "bar" ? "y" : "x",
        // Counts never go below zero: without this an empty series is drawn from -1 to 1.
        scales: kind === "bar"
          ? { x: { beginAtZero: true, suggestedMax: 1, ticks: { precision: 0 } } }
          : { y: { beginAtZero: true, suggestedMax: 1, ticks: { precision: 0 } } },
        plugins: {
          legend: { display: datasets.length > 1 },
          tooltip: {
            callbacks: {
              label: function (item) {
                if (!item.dataset.belowThree[item.dataIndex]) return item.dataset.label + ": " + item.formattedValue;
                return item.dataset.label + ": < 3";
              }
            }
          }
        }
      }
    });
    figure.setAttribute("data-drawn", "true");
  }
  function all() { document.querySelectorAll("figure[data-chart]").forEach(draw); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all); else all();
})();
