/* Maps of the reps pages: a book of accounts (clustered), territory boundaries, and call-plan routes.
 * Data comes from a json_script element (#reps-map-data); everything is drawn as vectors, so the page
 * still shows the accounts and routes when the base tiles cannot load. */
(function () {
  "use strict";

  var STATUS_COLOURS = { never: "#b3261e", overdue: "#b84a00", "due-soon": "#8a6d00", ok: "#2e7d32", none: "#61707d" };
  var STATUS_URGENCY = ["never", "overdue", "due-soon", "ok", "none"];

  // A cluster takes the colour of the most urgent account inside it, so overdue work shows at any zoom.
  function clusterIcon(cluster) {
    var worst = STATUS_URGENCY.length - 1;
    cluster.getAllChildMarkers().forEach(function (marker) {
      worst = Math.min(worst, STATUS_URGENCY.indexOf(marker.options.status));
    });
    return L.divIcon({
      className: "reps-cluster", iconSize: [34, 34],
      html: '<div style="background:' + STATUS_COLOURS[STATUS_URGENCY[worst]] + '">' + cluster.getChildCount() + "</div>"
    });
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function init() {
    var element = document.getElementById("reps-map");
    var source = document.getElementById("reps-map-data");
    if (!element || !source || typeof L === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var map = L.map(element, { preferCanvas: true }).setView([39.5, -98.35], 4);
    var tiles = L.tileLayer(data.tile_url, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" });
    tiles.on("tileerror", function () { element.classList.add("reps-map-offline"); });
    tiles.addTo(map);
    var bounds = L.latLngBounds([]);

    (data.boundaries || []).forEach(function (territory) {
      var layer = L.geoJSON(territory.geometry, {
        style: { color: territory.color || "#1565c0", weight: 2, fillOpacity: 0.06 }
      }).bindTooltip(escapeHtml(territory.name), { sticky: true });
      layer.addTo(map);
      bounds.extend(layer.getBounds());
    });

    var accounts = data.accounts || [];
    if (accounts.length) {
      var group = (L.markerClusterGroup && accounts.length > 50)
        ? L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 45, iconCreateFunction: clusterIcon })
        : L.featureGroup();
      accounts.forEach(function (account) {
        var marker = L.circleMarker([account.lat, account.lon], {
          radius: account.tier === "A" ? 8 : 6, color: "#fff", weight: 1.5, status: account.status,
          fillColor: STATUS_COLOURS[account.status] || "#1565c0", fillOpacity: 0.95
        });
        var label = escapeHtml(account.name) + " · tier " + escapeHtml(account.tier) + " · " + escapeHtml(account.status);
        marker.bindPopup(account.url ? '<a href="' + escapeHtml(account.url) + '">' + label + "</a>" : label);
        marker.bindTooltip(escapeHtml(account.name));
        group.addLayer(marker);
        bounds.extend([account.lat, account.lon]);
      });
      group.addTo(map);
    }

    var routeLayers = {};
    (data.routes || []).forEach(function (route, index) {
      if (!route.points || route.points.length < 2) { return; }
      var latlngs = route.points.map(function (p) { return [p[1], p[0]]; });
      var layer = L.featureGroup();
      L.polyline(latlngs, { color: route.color, weight: 4, opacity: 0.85 }).addTo(layer);
      route.stops.forEach(function (stop) {
        var icon = L.divIcon({
          className: "reps-stop", html: '<span style="background:' + route.color + '">' + stop.order + "</span>",
          iconSize: [22, 22], iconAnchor: [11, 11]
        });
        var text = escapeHtml(route.label + " " + stop.time + " · " + stop.order + ". " + stop.name);
        L.marker([stop.lat, stop.lon], { icon: icon, keyboard: true, title: route.label + " stop " + stop.order })
          .bindPopup(stop.url ? '<a href="' + escapeHtml(stop.url) + '">' + text + "</a>" : text).addTo(layer);
      });
      layer.addTo(map);
      routeLayers[index] = layer;
      bounds.extend(layer.getBounds());
    });
    if (data.home) {
      L.marker([data.home.lat, data.home.lon], {
        icon: L.divIcon({ className: "reps-home", html: "<span>⌂</span>", iconSize: [26, 26], iconAnchor: [13, 13] }),
        title: "Home"
      }).bindTooltip("Home").addTo(map);
      bounds.extend([data.home.lat, data.home.lon]);
    }
    if (bounds.isValid()) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 13 }); }

    // Day filters on the call plan: show one day's route, or all.
    document.querySelectorAll("[data-route-day]").forEach(function (button) {
      button.addEventListener("click", function () {
        var day = button.getAttribute("data-route-day");
        document.querySelectorAll("[data-route-day]").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
        button.setAttribute("aria-pressed", "true");
        var focus = L.latLngBounds([]);
        Object.keys(routeLayers).forEach(function (key) {
          var visible = day === "all" || day === key;
          if (visible) { routeLayers[key].addTo(map); focus.extend(routeLayers[key].getBounds()); }
          else { map.removeLayer(routeLayers[key]); }
        });
        if (focus.isValid()) { map.fitBounds(focus, { padding: [20, 20], maxZoom: 13 }); }
      });
    });
    element.setAttribute("data-boundaries", String((data.boundaries || []).length));
    element.setAttribute("data-accounts", String(accounts.length));
    element.setAttribute("data-ready", "true");
    window.repsMap = map;
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
