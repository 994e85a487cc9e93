/* Manager dashboard: attainment bars, monthly trend lines, and a Leaflet choropleth of the chosen KPI. */
(function () {
  "use strict";
  var charts = window.PerformanceCharts;
  charts.attainmentBars("attainment-chart", charts.readJson("attainment-data"));
  charts.trendLines("trend-chart", charts.readJson("trend-data"));

  var mapElement = document.getElementById("kpi-map");
  if (!mapElement || !window.L) return;
  var map = L.map(mapElement, { preferCanvas: false }).setView([39.5, -98.35], 4);
  if (mapElement.dataset.tiles) {
    // Tiles may be unreachable offline; the polygons below do not depend on them.
    L.tileLayer(mapElement.dataset.tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
  }
  var select = document.getElementById("map-metric");
  var legend = document.getElementById("map-legend");
  var ramp = ["#b3261e", "#e65100", "#f9a825", "#9ccc65", "#2e7d32"];
  var layer = null;
  var collection = null;
  var fitted = false;

  function valueOf(feature, key) {
    var metrics = feature.properties.metrics || {};
    return metrics[key] === undefined ? null : metrics[key];
  }

  function breaks(values) {
    var sorted = values.filter(function (v) { return v !== null; }).sort(function (a, b) { return a - b; });
    if (!sorted.length) return [];
    return [0.2, 0.4, 0.6, 0.8].map(function (q) { return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]; });
  }

  function colour(value, cuts) {
    if (value === null) return "#cfd8dc";
    var index = 0;
    while (index < cuts.length && value > cuts[index]) index++;
    return ramp[index];
  }

  function draw() {
    if (!collection) return;
    var key = select.value;
    var cuts = breaks(collection.features.map(function (f) { return valueOf(f, key); }));
    if (layer) map.removeLayer(layer);
    layer = L.geoJSON(collection, {
      style: function (feature) {
        return { color: "#102a43", weight: 1, fillOpacity: 0.7, fillColor: colour(valueOf(feature, key), cuts) };
      },
      onEachFeature: function (feature, featureLayer) {
        var p = feature.properties, value = valueOf(feature, key);
        var flags = (p.flags || []).map(function (f) { return "<li>" + f.reason + "</li>"; }).join("");
        featureLayer.bindPopup("<strong>" + p.code + " " + p.name + "</strong><br>" + select.options[select.selectedIndex].text +
          ": " + (value === null ? "–" : value) + (flags ? "<ul>" + flags + "</ul>" : ""));
      }
    }).addTo(map);
    mapElement.dataset.features = String(collection.features.length);
    if (!fitted && layer.getBounds().isValid()) {  // once: changing the KPI keeps the manager's view
      map.invalidateSize();
      map.fitBounds(layer.getBounds(), { padding: [10, 10], animate: false });
      fitted = true;
    }
    legend.innerHTML = cuts.length ? ramp.map(function (c, i) {
      var label = i === 0 ? "≤ " + cuts[0] : (i < cuts.length ? "≤ " + cuts[i] : "> " + cuts[cuts.length - 1]);
      return '<i style="background:' + c + '"></i>' + label;
    }).join(" ") : "no values";
  }

  fetch(mapElement.dataset.url, { credentials: "same-origin" })
    .then(function (response) { return response.json(); })
    .then(function (data) { collection = data; draw(); mapElement.classList.add("loaded"); });
  select.addEventListener("change", draw);
})();
