/* Chart.js helpers shared by the manager dashboard and the rep's progress page. */
(function () {
  "use strict";
  var palette = { attainment: "#1565c0", coverage: "#2e7d32", winRate: "#ef6c00", bad: "#b3261e", line: "#d9e1e7" };

  function readJson(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function attainmentBars(canvasId, data) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || !window.Chart || !data) return null;
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Attainment %", data: data.attainment, backgroundColor: palette.attainment, order: 2 },
          { label: "Visit coverage %", data: data.coverage, backgroundColor: palette.coverage, order: 3 },
          // The thresholds the flags use: attainment under 80% is flagged.
          { type: "line", label: "80% target", data: data.labels.map(function () { return 80; }), order: 1,
            borderColor: palette.bad, backgroundColor: palette.bad, borderDash: [6, 4], borderWidth: 1.5,
            pointRadius: 0 }
        ]
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: "%" } } },
        plugins: { legend: { position: "bottom" } } }
    });
  }

  function trendLines(canvasId, trend, keys) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || !window.Chart || !trend) return null;
    var series = keys || [["attainment", "Attainment %", palette.attainment], ["visit_coverage", "Visit coverage %", palette.coverage],
                          ["win_rate", "Win rate %", palette.winRate]];
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: trend.map(function (p) { return p.label; }),
        datasets: series.map(function (s) {
          return { label: s[1], borderColor: s[2], backgroundColor: s[2], spanGaps: true, tension: 0.2,
                   data: trend.map(function (p) { return p.metrics ? p.metrics[s[0]] : null; }) };
        })
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true } }, plugins: { legend: { position: "bottom" } } }
    });
  }

  window.PerformanceCharts = { readJson: readJson, attainmentBars: attainmentBars, trendLines: trendLines, palette: palette };
})();
