// The shared scenario's territories on a Leaflet map (Leaflet comes from django-leaflet's static files).
(function () {
  const element = document.getElementById("collab-shared-map");
  const data = JSON.parse(document.getElementById("collab-shared-geojson").textContent);
  const palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"];
  const map = L.map(element, { attributionControl: true });
  L.tileLayer(element.dataset.tiles, {
    maxZoom: 19, attribution: "&copy; OpenStreetMap contributors",
  }).addTo(map);
  const layer = L.geoJSON(data, {
    style: (feature) => ({
      color: "#102a43", weight: 1, fillOpacity: 0.45,
      fillColor: feature.properties.color || palette[feature.properties.id % palette.length],
    }),
    onEachFeature: (feature, shape) => {
      const p = feature.properties;
      shape.bindTooltip(`${p.code} ${p.name}<br>${p.owner || "vacant"} · ${p.accounts} accounts`);
    },
  }).addTo(map);
  if (layer.getLayers().length) map.fitBounds(layer.getBounds(), { padding: [10, 10] });
  else map.setView([39.5, -98.35], 4);
  element.dataset.ready = "true";
})();
