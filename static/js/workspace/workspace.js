/* The manager's map workspace: boundaries, hierarchy, accounts (clusters or vector tiles), balance,
   selection (click, box, lasso), moves, undo/redo, locks, redrawing and scenario compare.
   Plain browser JavaScript on the vendored Leaflet and plugins; every change goes through the JSON API. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("workspace-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var MEASURE_LABELS = {accounts: "Accounts", potential: "Potential", workload: "Workload (hours)",
    revenue: "Revenue", attainment: "Attainment (%)"};
  // Sequential, colour-blind-safe (viridis-like) classes for choropleths, light to dark.
  var SEQUENTIAL = ["#fde725", "#5ec962", "#21918c", "#3b528b", "#440154"];
  var UNITS_MIN_ZOOM = 5;

  var state = {
    scenario: config.scenario, version: null, editable: false, tree: [], byId: {}, balance: null,
    balanceById: {}, measure: "territory", target: "units", tool: "click", selection: new Set(),
    focus: null, boundaryZoom: null, unitsTruncated: false, accountsMode: null, compare: config.compare,
    reshapeLayer: null, busy: false
  };

  // VectorGrid 1.3 calls L.DomEvent.fakeStop, which Leaflet 1.8+ no longer has.
  if (!L.DomEvent.fakeStop) { L.DomEvent.fakeStop = function (e) { e._stopped = true; }; }

  function fmt(value, digits) {
    if (value === null || value === undefined) { return "—"; }
    return Number(value).toLocaleString(undefined, {maximumFractionDigits: digits || 0});
  }
  var compactFormat = new Intl.NumberFormat(undefined, {notation: "compact", maximumFractionDigits: 1});
  function compact(value) {
    if (value === null || value === undefined) { return "—"; }
    return Math.abs(value) < 10000 ? fmt(value) : compactFormat.format(value);
  }
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function message(text, kind, action) {
    var box = $("ws-message");
    box.className = "ws-message" + (kind ? " ws-message-" + kind : "");
    box.textContent = text || "";
    if (action) {
      var button = document.createElement("button");
      button.type = "button"; button.textContent = action.label; button.className = "secondary";
      button.addEventListener("click", action.run);
      box.appendChild(document.createTextNode(" ")); box.appendChild(button);
    }
  }

  function api(path, options) {
    options = options || {};
    var headers = {"Accept": "application/json"};
    if (options.body) { headers["Content-Type"] = "application/json"; headers["X-CSRFToken"] = config.csrfToken; }
    return fetch(config.api + state.scenario + "/" + path, {
      method: options.method || (options.body ? "POST" : "GET"), credentials: "same-origin", headers: headers,
      body: options.body ? JSON.stringify(options.body) : undefined
    }).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!response.ok) {
          var error = new Error((body && (body.message || body.detail)) || response.statusText);
          error.status = response.status; error.body = body;
          throw error;
        }
        return body;
      });
    });
  }

  // ---------------------------------------------------------------- map and layers
  var map = L.map("ws-map", {center: config.center, zoom: config.zoom, zoomControl: true, keyboard: true,
    boxZoom: false});
  map.createPane("boundaries").style.zIndex = 410;
  map.createPane("units").style.zIndex = 420;
  map.createPane("compare").style.zIndex = 430;
  map.createPane("accounts").style.zIndex = 450;
  map.getPane("compare").style.pointerEvents = "none";

  var tileErrors = 0;
  var base = L.tileLayer(config.tileUrl, {attribution: config.tileAttribution, maxZoom: 19});
  base.on("tileerror", function () {
    tileErrors += 1;
    if (tileErrors === 3) {
      var notice = $("ws-map-notice");
      notice.textContent = "The background map cannot be loaded; territories and accounts are still shown.";
      notice.hidden = false;
    }
  });
  base.addTo(map);

  var boundaryLayer = L.geoJSON(null, {pane: "boundaries", style: boundaryStyle, onEachFeature: onBoundary});
  boundaryLayer.addTo(map);
  var unitLayer = L.geoJSON(null, {pane: "units", style: unitStyle, onEachFeature: onUnit});
  var compareLayer = L.geoJSON(null, {pane: "compare", interactive: false, style: function () {
    return {color: "#111", weight: 2.5, dashArray: "6 5", fill: false};
  }});
  var clusterLayer = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false,
    maxClusterRadius: 50, spiderfyOnMaxZoom: true, disableClusteringAtZoom: 15});
  var tileLayer = null;
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "ws-legend");
    div.setAttribute("data-testid", "legend");
    return div;
  };
  legend.addTo(map);

  function territoryColor(id) {
    var territory = state.byId[id];
    return territory ? territory.color : "#8a97a3";
  }

  function measureValue(id) {
    var row = state.balanceById[id];
    return row ? row[state.measure] : null;
  }

  function choroplethBreaks() {
    var values = (state.balance ? state.balance.territories : []).map(function (row) { return row[state.measure]; })
      .filter(function (v) { return v !== null && v !== undefined; });
    if (!values.length) { return null; }
    var min = Math.min.apply(null, values), max = Math.max.apply(null, values);
    var breaks = [];
    for (var i = 1; i < SEQUENTIAL.length; i++) { breaks.push(min + (max - min) * i / SEQUENTIAL.length); }
    return {min: min, max: max, breaks: breaks};
  }

  function choroplethColor(value, scale) {
    if (value === null || value === undefined || !scale) { return "#d9e1e7"; }
    for (var i = 0; i < scale.breaks.length; i++) { if (value < scale.breaks[i]) { return SEQUENTIAL[i]; } }
    return SEQUENTIAL[SEQUENTIAL.length - 1];
  }

  var currentScale = null;
  function boundaryStyle(feature) {
    var id = feature.properties.id;
    var focused = state.focus !== null && isInFocus(id);
    var fill = state.measure === "territory" ? territoryColor(id) : choroplethColor(measureValue(id), currentScale);
    var locked = state.byId[id] && state.byId[id].is_locked;
    return {color: focused ? "#102a43" : "#ffffff", weight: focused ? 3.5 : 1.5, fillColor: fill,
      fillOpacity: state.measure === "territory" ? 0.35 : 0.7, dashArray: locked ? "4 4" : null};
  }

  function onBoundary(feature, layer) {
    var id = feature.properties.id;
    layer.on("click", function (event) {
      if (state.tool !== "click" || !map.hasLayer(unitLayer) || state.target !== "units") {
        focusTerritory(id, false);
      }
      L.DomEvent.stopPropagation(event);
    });
    layer.bindTooltip(function () {
      var row = state.balanceById[id];
      var text = escapeHtml(feature.properties.code + " " + feature.properties.name);
      if (row) { text += "<br>" + fmt(row.accounts) + " accounts · potential " + fmt(row.potential); }
      return text;
    }, {sticky: true});
  }

  function unitStyle(feature) {
    var selected = state.selection.has(feature.properties.id) && state.target === "units";
    return {color: selected ? "#111111" : territoryColor(feature.properties.territory),
      weight: selected ? 3 : 0.8, opacity: selected ? 1 : 0.8, fillColor: territoryColor(feature.properties.territory),
      fillOpacity: selected ? 0.6 : 0.05, dashArray: selected ? "3 2" : null};
  }

  function onUnit(feature, layer) {
    layer.on("click", function (event) {
      L.DomEvent.stopPropagation(event);
      if (state.tool !== "click" || !state.editable) { focusTerritory(feature.properties.territory, false); return; }
      setTarget("units");
      toggleSelection(feature.properties.id);
    });
    layer.bindTooltip(escapeHtml(feature.properties.code + (feature.properties.name ? " " + feature.properties.name : "")),
      {sticky: true});
  }

  // ---------------------------------------------------------------- loading
  var boundaryRequest = 0;
  function loadBoundaries(force) {
    var zoom = Math.round(map.getZoom());
    if (!force && zoom === state.boundaryZoom) { return Promise.resolve(); }
    state.boundaryZoom = zoom;
    var request = ++boundaryRequest;
    return api("boundaries/?zoom=" + zoom + "&v=" + state.version).then(function (collection) {
      if (request !== boundaryRequest) { return; }
      boundaryLayer.clearLayers();
      boundaryLayer.addData(collection);
    });
  }

  function viewportBBox(padding) {
    var bounds = map.getBounds().pad(padding || 0);
    var clamp = function (v, lo, hi) { return Math.max(lo, Math.min(hi, v)); };
    return [clamp(bounds.getWest(), -180, 180), clamp(bounds.getSouth(), -90, 90),
      clamp(bounds.getEast(), -180, 180), clamp(bounds.getNorth(), -90, 90)].map(function (v) {
      return v.toFixed(5);
    }).join(",");
  }

  var unitCodes = {};
  var unitRequest = 0, accountRequest = 0;  // only the latest response of each kind is drawn
  function loadUnits() {
    if (!$("ws-show-units").checked || map.getZoom() < UNITS_MIN_ZOOM) {
      map.removeLayer(unitLayer);
      return Promise.resolve();
    }
    var request = ++unitRequest;
    return api("units/?bbox=" + viewportBBox(0.2) + "&zoom=" + Math.round(map.getZoom())).then(function (data) {
      if (request !== unitRequest) { return; }
      unitLayer.clearLayers();
      unitLayer.addData(data);
      state.unitsTruncated = data.truncated;
      unitCodes = {};
      var options = [];
      data.features.forEach(function (f) { unitCodes[f.properties.code.toLowerCase()] = f.properties.id; });
      data.features.slice(0, 500).forEach(function (f) { options.push("<option value=\"" + escapeHtml(f.properties.code) + "\">"); });
      $("ws-unit-codes").innerHTML = options.join("");
      if (!map.hasLayer(unitLayer)) { unitLayer.addTo(map); }
      if (data.truncated) { message("Zoom in to see every geo unit in view.", "info"); }
    });
  }

  function accountColor(territory) { return territory ? territoryColor(territory) : "#5f6b76"; }

  function showAccountPopup(latlng, id, count) {
    var html;
    if (count && count > 1) {
      html = fmt(count) + " accounts here; zoom in to see them.";
    } else {
      var url = config.accountUrl ? config.accountUrl.replace("{id}", id) : "";
      html = "Account #" + id + (url ? " · <a href=\"" + url + "\">open</a>" : "");
    }
    L.popup().setLatLng(latlng).setContent(html).openOn(map);
  }

  function onAccountClick(id, latlng, count) {
    if (state.editable && state.tool === "click" && id && (!count || count === 1)) {
      setTarget("accounts");
      toggleSelection(id);
    } else {
      showAccountPopup(latlng, id, count);
    }
  }

  function useTiles() {
    map.removeLayer(clusterLayer);
    if (tileLayer) { map.removeLayer(tileLayer); }
    tileLayer = L.vectorGrid.protobuf(config.api + state.scenario + "/tiles/{z}/{x}/{y}.pbf?v={v}", {
      v: state.version, pane: "accounts", interactive: true, maxNativeZoom: 18,
      rendererFactory: L.canvas.tile,
      getFeatureId: function (f) { return f.properties.id || null; },
      vectorTileLayerStyles: {
        accounts: function (properties) {
          var count = properties.count || 1;
          var selected = properties.id && state.target === "accounts" && state.selection.has(properties.id);
          return {radius: Math.min(2 + Math.log2(count + 1) * 1.6, 14), fill: true, fillOpacity: 0.85,
            fillColor: selected ? "#111111" : (count > 1 ? "#1565c0" : accountColor(properties.territory)),
            color: "#ffffff", weight: selected ? 2 : 0.6};
        }
      }
    });
    tileLayer.on("click", function (event) {
      var p = event.layer.properties || {};
      onAccountClick(p.id, event.latlng, p.count);
    });
    tileLayer.addTo(map);
    state.accountsMode = "tiles";
  }

  function loadAccounts() {
    if (!$("ws-show-accounts").checked) {
      map.removeLayer(clusterLayer);
      if (tileLayer) { map.removeLayer(tileLayer); }
      return Promise.resolve();
    }
    var total = state.balance ? state.balance.summary.accounts.total : 0;
    // Far too many for markers: vector tiles, unless the view is close enough to hold few accounts.
    if (total > config.accountClusterLimit && map.getZoom() < 12) {
      if (state.accountsMode !== "tiles") { useTiles(); }
      return Promise.resolve();
    }
    var request = ++accountRequest;
    return api("accounts/?bbox=" + viewportBBox(0.3)).then(function (data) {
      if (request !== accountRequest) { return; }
      if (data.truncated) { if (state.accountsMode !== "tiles") { useTiles(); } return; }
      if (tileLayer) { map.removeLayer(tileLayer); tileLayer = null; }
      clusterLayer.clearLayers();
      var markers = data.accounts.map(function (row) {
        var selected = state.target === "accounts" && state.selection.has(row[0]);
        var marker = L.circleMarker([row[2], row[1]], {radius: selected ? 7 : 5, weight: selected ? 3 : 1,
          color: selected ? "#111" : "#fff", fillColor: accountColor(row[3]), fillOpacity: 0.95, pane: "accounts"});
        marker.accountId = row[0];
        marker.on("click", function (event) { L.DomEvent.stopPropagation(event); onAccountClick(row[0], event.latlng, 1); });
        return marker;
      });
      clusterLayer.addLayers(markers);
      if (!map.hasLayer(clusterLayer)) { clusterLayer.addTo(map); }
      state.accountsMode = "cluster";
    });
  }

  function refreshAccountsStyle() {
    if (state.accountsMode === "tiles" && tileLayer) {
      tileLayer.options.v = state.version;
      tileLayer.redraw();
    } else {
      loadAccounts();
    }
  }

  function loadTree() {
    return api("tree/").then(function (data) {
      state.version = data.scenario.version;
      state.editable = data.scenario.is_editable;
      state.tree = data.territories;
      state.byId = {};
      data.territories.forEach(function (t) { state.byId[t.id] = t; });
      renderTree();
      renderTargets();
      renderEditState(data.edits);
      renderEditable(data.scenario);
    });
  }

  function loadBalance() {
    return api("balance/").then(renderBalance);
  }

  // ---------------------------------------------------------------- tree
  function childrenOf(id) { return state.tree.filter(function (t) { return t.parent_id === id; }); }

  function descendants(id) {
    var out = [id];
    childrenOf(id).forEach(function (child) { out = out.concat(descendants(child.id)); });
    return out;
  }

  function isInFocus(id) { return state.focus !== null && descendants(state.focus).indexOf(id) !== -1; }

  function renderTree() {
    var list = $("ws-tree");
    list.innerHTML = "";
    var build = function (parentId, container) {
      childrenOf(parentId).forEach(function (t) {
        var li = document.createElement("li");
        li.setAttribute("data-territory", t.id);
        var row = document.createElement("div");
        row.className = "ws-tree-row";
        var swatch = "<span class=\"ws-swatch\" style=\"background:" + escapeHtml(t.color) + "\" aria-hidden=\"true\"></span>";
        var button = document.createElement("button");
        button.type = "button"; button.className = "ws-tree-item";
        button.innerHTML = swatch + "<span>" + escapeHtml(t.code + " " + t.name) + "</span>";
        button.title = t.code + " " + t.name + (t.owner ? " · " + t.owner.name : "");
        button.setAttribute("aria-pressed", state.focus === t.id ? "true" : "false");
        button.addEventListener("click", function () { focusTerritory(t.id, true); });
        row.appendChild(button);
        if (t.is_leaf && state.editable) {
          var lock = document.createElement("button");
          lock.type = "button"; lock.className = "ws-lock";
          lock.setAttribute("aria-pressed", t.is_locked ? "true" : "false");
          lock.setAttribute("aria-label", (t.is_locked ? "Unlock " : "Lock ") + t.code);
          lock.title = t.is_locked ? "Locked: click to unlock" : "Lock against changes";
          lock.textContent = t.is_locked ? "Locked" : "Lock";
          lock.addEventListener("click", function () { toggleLock(t); });
          row.appendChild(lock);
        } else if (t.is_locked) {
          var badge = document.createElement("span"); badge.className = "ws-lock-badge"; badge.textContent = "Locked";
          row.appendChild(badge);
        }
        var link = document.createElement("a");
        link.href = config.territoryUrl.replace("{id}", t.id); link.className = "ws-open";
        link.textContent = "Open"; link.setAttribute("aria-label", "Open " + t.code + " " + t.name);
        row.appendChild(link);
        li.appendChild(row);
        var kids = childrenOf(t.id);
        if (kids.length) {
          var ul = document.createElement("ul");
          build(t.id, ul);
          li.appendChild(ul);
        }
        container.appendChild(li);
      });
    };
    build(null, list);
    if (!state.tree.length) { list.innerHTML = "<li>No territories in this scenario.</li>"; }
  }

  function focusTerritory(id, zoom) {
    state.focus = state.focus === id && !zoom ? null : id;
    Array.prototype.forEach.call(document.querySelectorAll(".ws-tree-item"), function (button) {
      var li = button.closest("li");
      button.setAttribute("aria-pressed", li && Number(li.getAttribute("data-territory")) === state.focus ? "true" : "false");
    });
    boundaryLayer.setStyle(boundaryStyle);
    var territory = state.byId[id];
    if (zoom && territory) {
      var bounds = null;
      descendants(id).forEach(function (tid) {
        var bbox = state.byId[tid] && state.byId[tid].bbox;
        if (bbox) {
          var b = L.latLngBounds([bbox[1], bbox[0]], [bbox[3], bbox[2]]);
          bounds = bounds ? bounds.extend(b) : b;
        }
      });
      if (bounds) { map.fitBounds(bounds, {padding: [20, 20], maxZoom: 12}); }
    }
    if (territory && territory.is_leaf) { $("ws-target").value = String(id); }
    $("ws-reshape").disabled = !(state.editable && territory && territory.is_leaf && !territory.built_from_units &&
      !territory.is_locked);
  }

  function renderTargets() {
    var select = $("ws-target");
    var previous = select.value;
    select.innerHTML = state.tree.filter(function (t) { return t.is_leaf; }).map(function (t) {
      return "<option value=\"" + t.id + "\">" + escapeHtml(t.code + " " + t.name) + (t.is_locked ? " (locked)" : "") +
        "</option>";
    }).join("");
    if (previous) { select.value = previous; }
  }

  // ---------------------------------------------------------------- balance and legend
  function deviationCell(row, measure) {
    var deviation = row.deviation[measure];
    var text = compact(row[measure]);
    if (deviation === null || deviation === undefined) { return "<td class=\"num\">" + text + "</td>"; }
    var cls = Math.abs(deviation) > 10 ? " ws-off" : "";
    var sign = deviation > 0 ? "+" : "";
    return "<td class=\"num" + cls + "\">" + text + "<small>" + sign + deviation.toFixed(1) + "%</small></td>";
  }

  function renderBalance(balance) {
    state.balance = balance;
    state.balanceById = {};
    balance.territories.forEach(function (row) { state.balanceById[row.id] = row; });
    if (balance.version) { state.version = balance.version; }
    var body = $("ws-balance").querySelector("tbody");
    body.innerHTML = balance.territories.map(function (row) {
      return "<tr data-territory=\"" + row.id + "\"><th scope=\"row\"><span class=\"ws-swatch\" style=\"background:" +
        escapeHtml(territoryColor(row.id)) + "\" aria-hidden=\"true\"></span>" + escapeHtml(row.code) +
        (row.is_locked ? " <span class=\"ws-lock-badge\">Locked</span>" : "") +
        (row.pieces > 1 ? "<small class=\"ws-warn\" title=\"Not contiguous\">" + row.pieces + " pieces</small>" : "") +
        (balance.compared && row.kind !== balance.compared.kind ?
          "<small class=\"ws-kind\" title=\"Compared with territories of its own kind\">" +
          escapeHtml(kindLabel(balance, row.kind)) + "</small>" : "") +
        "</th>" + ["accounts", "potential", "workload", "revenue"].map(function (m) { return deviationCell(row, m); }).join("") +
        "</tr>";
    }).join("") || "<tr><td colspan=\"5\">No territories.</td></tr>";
    var s = balance.summary;
    var compared = balance.compared || {};
    var apart = (balance.apart || []).map(function (group) {
      return escapeHtml(group.label) + " (" + group.territories + ")";
    });
    $("ws-balance").querySelector("tfoot").innerHTML = "<tr><th scope=\"row\">Mean" +
      (compared.territories ? "<small>of " + compared.territories + " " + escapeHtml(compared.label.toLowerCase()) +
        "</small>" : "") + "</th>" +
      ["accounts", "potential", "workload", "revenue"].map(function (m) {
        return "<td class=\"num\">" + compact(s[m].mean) + "<small>max ±" + (s[m].max_deviation === null ? "—" :
          s[m].max_deviation.toFixed(1) + "%") + "</small></td>";
      }).join("") + "</tr>" +
      (apart.length ? "<tr><td colspan=\"5\" class=\"ws-note\" data-testid=\"balance-apart\">Compared among " +
        "their own kind: " + apart.join(", ") + "</td></tr>" : "");
    $("ws-warnings").innerHTML = balance.warnings.slice(0, 5).map(function (w) {
      return "<li>" + escapeHtml(w) + "</li>";
    }).join("") + (balance.warnings.length > 5 ? "<li>… and " + (balance.warnings.length - 5) +
      " more territories in several pieces</li>" : "");
    currentScale = choroplethBreaks();
    boundaryLayer.setStyle(boundaryStyle);
    renderLegend();
  }

  function kindLabel(balance, kind) {
    var group = (balance.apart || []).filter(function (g) { return g.kind === kind; })[0];
    return group ? group.label : kind;
  }

  function renderLegend() {
    var div = document.querySelector(".ws-legend");
    if (!div) { return; }
    var html;
    if (state.measure === "territory") {
      var leaves = state.tree.filter(function (t) { return t.is_leaf; });
      html = "<strong>Territories</strong>" + leaves.slice(0, 8).map(function (t) {
        return "<div><span class=\"ws-swatch\" style=\"background:" + escapeHtml(t.color) + "\"></span>" +
          escapeHtml(t.code) + "</div>";
      }).join("") + (leaves.length > 8 ? "<div>… " + (leaves.length - 8) + " more (see the hierarchy)</div>" : "");
    } else if (!currentScale) {
      html = "<strong>" + MEASURE_LABELS[state.measure] + "</strong><div>No data</div>";
    } else {
      var edges = [currentScale.min].concat(currentScale.breaks).concat([currentScale.max]);
      html = "<strong>" + MEASURE_LABELS[state.measure] + "</strong>" + SEQUENTIAL.map(function (color, i) {
        return "<div><span class=\"ws-swatch\" style=\"background:" + color + "\"></span>" + compact(edges[i]) +
          " – " + compact(edges[i + 1]) + "</div>";
      }).join("");
    }
    if (state.compare) { html += "<div><span class=\"ws-dash\"></span>Compared scenario</div>"; }
    div.innerHTML = html;
  }

  // ---------------------------------------------------------------- editing
  function renderEditable(scenario) {
    var note = $("ws-edit-note");
    var tools = $("ws-edit-tools");
    if (scenario.is_editable) {
      note.hidden = true;
      tools.hidden = false;
    } else {
      note.hidden = false;
      var link = config.scenarioUrl ? " <a href=\"" + config.scenarioUrl.replace("{id}", scenario.id) + "\">Go to the scenario to clone it.</a>" : "";
      note.innerHTML = "“" + escapeHtml(scenario.name) + "” is " + escapeHtml(scenario.status) +
        " and cannot be edited. Clone it to a planning scenario and edit the clone." + link;
      tools.hidden = true;
    }
  }

  function renderEditState(edits) {
    $("ws-undo").disabled = !state.editable || !edits.can_undo;
    $("ws-redo").disabled = !state.editable || !edits.can_redo;
    $("ws-history").innerHTML = edits.recent.map(function (edit) {
      return "<li class=\"" + (edit.is_undone ? "ws-undone" : "") + "\">" + escapeHtml(edit.summary) +
        (edit.is_undone ? " <small>(undone)</small>" : "") + "</li>";
    }).join("") || "<li class=\"ws-note\">No edits yet.</li>";
  }

  function setTarget(target) {
    if (state.target !== target) { state.selection.clear(); }
    state.target = target;
    Array.prototype.forEach.call(document.querySelectorAll(".ws-toggle"), function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-target") === target ? "true" : "false");
    });
    renderSelection();
  }

  function setTool(tool) {
    state.tool = tool;
    Array.prototype.forEach.call(document.querySelectorAll(".ws-tool"), function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-tool") === tool ? "true" : "false");
    });
    if (tool === "click") { map.dragging.enable(); } else { map.dragging.disable(); }
    $("ws-map").classList.toggle("ws-drawing", tool !== "click");
  }

  function toggleSelection(id) {
    if (state.selection.has(id)) { state.selection.delete(id); } else { state.selection.add(id); }
    renderSelection();
  }

  function renderSelection() {
    var n = state.selection.size;
    var noun = state.target === "units" ? (n === 1 ? "geo unit" : "geo units") : (n === 1 ? "account" : "accounts");
    $("ws-selection").textContent = n ? n + " " + noun + " selected." : "Nothing selected.";
    $("ws-move").disabled = !n || !state.editable;
    unitLayer.setStyle(unitStyle);
    if (state.target === "accounts") {
      if (state.accountsMode === "tiles" && tileLayer) { tileLayer.redraw(); }
      else {
        clusterLayer.eachLayer(function (marker) {
          var selected = state.selection.has(marker.accountId);
          marker.setStyle({radius: selected ? 7 : 5, weight: selected ? 3 : 1, color: selected ? "#111" : "#fff"});
        });
      }
    }
  }

  function afterEdit(result, verb) {
    state.version = result.version;
    renderBalance(result.balance);
    renderEditState(result.edits);
    state.selection.clear();
    renderSelection();
    var chain = loadTree().then(function () { return Promise.all([loadBoundaries(true), loadUnits()]); });
    chain.then(function () { refreshAccountsStyle(); });
    if (result.edit) { message((verb ? verb + ": " : "") + result.edit.summary + ".", "ok"); }
    return chain;
  }

  function editFailed(error) {
    if (error.status === 409 && error.body && error.body.code === "stale_version") {
      message(error.message, "error", {label: "Reload", run: function () { window.location.reload(); }});
    } else {
      message(error.message || "The change could not be saved.", "error");
    }
  }

  function guard(run) {
    if (state.busy) { return; }
    state.busy = true;
    document.body.classList.add("ws-busy");
    Promise.resolve().then(run).catch(editFailed).then(function () {
      state.busy = false;
      document.body.classList.remove("ws-busy");
    });
  }

  function move() {
    var territory = Number($("ws-target").value);
    if (!state.selection.size || !territory) { return; }
    var path = state.target === "units" ? "moves/units/" : "moves/accounts/";
    guard(function () {
      return api(path, {body: {version: state.version, ids: Array.from(state.selection), territory: territory}})
        .then(function (result) { afterEdit(result); });
    });
  }

  function undoRedo(which) {
    if ($("ws-" + which).disabled) { return; }
    guard(function () {
      return api(which + "/", {body: {version: state.version}}).then(function (result) {
        afterEdit(result, which === "undo" ? "Undone" : "Redone");
      });
    });
  }

  function toggleLock(territory) {
    guard(function () {
      return api("territories/" + territory.id + "/lock/", {body: {version: state.version, is_locked: !territory.is_locked}})
        .then(function (result) {
          state.version = result.version;
          renderBalance(result.balance);
          message(territory.code + (result.territory.is_locked ? " is locked." : " is unlocked."), "ok");
          return loadTree().then(function () { boundaryLayer.setStyle(boundaryStyle); });
        });
    });
  }

  // Box and lasso: drawn in screen space with pointer events, sent to the server as a polygon.
  var sketch = null;
  function pointerLatLng(event) { return map.mouseEventToLatLng(event); }
  var mapElement = $("ws-map");
  mapElement.addEventListener("pointerdown", function (event) {
    if (state.tool === "click" || !state.editable || event.button !== 0) { return; }
    if (event.target.closest(".leaflet-control")) { return; }
    event.preventDefault();
    var start = pointerLatLng(event);
    sketch = {start: start, points: [start], shape: state.tool === "box" ?
      L.rectangle([start, start], {color: "#102a43", weight: 2, dashArray: "5 4", fillOpacity: 0.08}).addTo(map) :
      L.polyline([start], {color: "#102a43", weight: 2, dashArray: "5 4"}).addTo(map)};
    mapElement.setPointerCapture(event.pointerId);
  });
  mapElement.addEventListener("pointermove", function (event) {
    if (!sketch) { return; }
    var point = pointerLatLng(event);
    if (state.tool === "box") { sketch.shape.setBounds(L.latLngBounds(sketch.start, point)); }
    else { sketch.points.push(point); sketch.shape.setLatLngs(sketch.points); }
  });
  mapElement.addEventListener("pointerup", function (event) {
    if (!sketch) { return; }
    var end = pointerLatLng(event);
    var ring;
    if (state.tool === "box") {
      var b = L.latLngBounds(sketch.start, end);
      ring = [[b.getWest(), b.getSouth()], [b.getEast(), b.getSouth()], [b.getEast(), b.getNorth()],
        [b.getWest(), b.getNorth()]];
    } else {
      ring = sketch.points.map(function (p) { return [p.lng, p.lat]; });
    }
    map.removeLayer(sketch.shape);
    sketch = null;
    if (ring.length < 3) { return; }
    ring.push(ring[0]);
    selectInShape({type: "Polygon", coordinates: [ring]});
  });

  function selectInShape(geometry) {
    guard(function () {
      return api("selection/", {body: {target: state.target, geometry: geometry}}).then(function (result) {
        result.ids.forEach(function (id) { state.selection.add(id); });
        renderSelection();
        if (result.truncated) { message("Only the first " + result.ids.length + " were selected.", "info"); }
      });
    });
  }

  // Redrawing a drawn (not unit-built) territory with leaflet-geoman.
  function startReshape() {
    var id = state.focus;
    if (!id) { return; }
    var existing = null;
    boundaryLayer.eachLayer(function (layer) { if (layer.feature.properties.id === id) { existing = layer; } });
    $("ws-reshape").hidden = true; $("ws-reshape-save").hidden = false; $("ws-reshape-cancel").hidden = false;
    if (existing) {
      state.reshapeLayer = L.geoJSON(existing.toGeoJSON(), {pane: "compare", style: {color: "#102a43", weight: 3}})
        .getLayers()[0];
      state.reshapeLayer.addTo(map);
      state.reshapeLayer.pm.enable({allowSelfIntersection: false});
      message("Drag the corners to reshape, then Save shape.", "info");
    } else {
      map.pm.enableDraw("Polygon", {snappable: true});
      map.once("pm:create", function (event) { state.reshapeLayer = event.layer; });
      message("Click to place the corners of the new boundary; click the first corner to finish.", "info");
    }
  }

  function endReshape() {
    if (state.reshapeLayer) { map.removeLayer(state.reshapeLayer); state.reshapeLayer = null; }
    map.pm.disableDraw();
    $("ws-reshape").hidden = false; $("ws-reshape-save").hidden = true; $("ws-reshape-cancel").hidden = true;
  }

  function saveReshape() {
    if (!state.reshapeLayer) { message("Draw the boundary first.", "error"); return; }
    var geometry = state.reshapeLayer.toGeoJSON().geometry;
    var id = state.focus;
    guard(function () {
      return api("territories/" + id + "/boundary/", {body: {version: state.version, geometry: geometry}})
        .then(function (result) { endReshape(); afterEdit(result); });
    });
  }

  // ---------------------------------------------------------------- compare
  function loadCompare() {
    var panel = $("ws-compare-panel");
    compareLayer.clearLayers();
    if (!state.compare) { panel.hidden = true; map.removeLayer(compareLayer); renderLegend(); return Promise.resolve(); }
    var other = state.compare;
    return Promise.all([
      fetch(config.api + other + "/boundaries/?zoom=" + Math.round(map.getZoom()), {credentials: "same-origin"})
        .then(function (r) { return r.json(); }),
      api("compare/" + other + "/")
    ]).then(function (results) {
      compareLayer.addData(results[0]);
      compareLayer.addTo(map);
      var diff = results[1];
      panel.hidden = false;
      $("ws-compare-summary").textContent = "From “" + diff.scenario_a.name + "” to “" + diff.scenario_b.name + "”: " +
        fmt(diff.totals.accounts_moved) + " accounts (revenue " + fmt(diff.totals.revenue_moved) +
        ") change territory, " + fmt(diff.totals.accounts_changing_rep) + " change rep.";
      var head = "<thead><tr><th scope=\"col\">{label}</th><th scope=\"col\" class=\"num\">Accounts in</th>" +
        "<th scope=\"col\" class=\"num\">Out</th><th scope=\"col\" class=\"num\">Revenue change</th></tr></thead>";
      var rows = function (items, label) {
        return "<tbody>" + (items.map(function (item) {
          return "<tr><th scope=\"row\">" + escapeHtml(label(item)) + "</th><td class=\"num\">" + fmt(item.accounts_in) +
            "</td><td class=\"num\">" + fmt(item.accounts_out) + "</td><td class=\"num\">" + fmt(item.revenue_change) + "</td></tr>";
        }).join("") || "<tr><td colspan=\"4\">No differences.</td></tr>") + "</tbody>";
      };
      $("ws-compare-territories").innerHTML = "<caption>Per territory</caption>" + head.replace("{label}", "Territory") +
        rows(diff.territories, function (t) { return t.code + " " + t.name; });
      $("ws-compare-reps").innerHTML = "<caption>Per rep</caption>" + head.replace("{label}", "Rep") +
        rows(diff.reps, function (r) { return r.rep; });
      renderLegend();
    }).catch(function (error) { message(error.message || "Could not compare the scenarios.", "error"); });
  }

  // ---------------------------------------------------------------- wiring
  $("ws-scenario").addEventListener("change", function (event) {
    var url = new URL(window.location.href);
    url.searchParams.set("scenario", event.target.value);
    url.searchParams.delete("compare");
    window.location.assign(url.toString());
  });
  $("ws-compare").addEventListener("change", function (event) {
    state.compare = event.target.value ? Number(event.target.value) : null;
    var url = new URL(window.location.href);
    if (state.compare) { url.searchParams.set("compare", state.compare); } else { url.searchParams.delete("compare"); }
    window.history.replaceState(null, "", url.toString());
    loadCompare();
  });
  $("ws-measure").addEventListener("change", function (event) {
    state.measure = event.target.value;
    currentScale = choroplethBreaks();
    boundaryLayer.setStyle(boundaryStyle);
    renderLegend();
  });
  $("ws-show-accounts").addEventListener("change", loadAccounts);
  $("ws-show-units").addEventListener("change", loadUnits);
  Array.prototype.forEach.call(document.querySelectorAll(".ws-toggle"), function (b) {
    b.addEventListener("click", function () { setTarget(b.getAttribute("data-target")); });
  });
  Array.prototype.forEach.call(document.querySelectorAll(".ws-tool"), function (b) {
    b.addEventListener("click", function () { setTool(b.getAttribute("data-tool")); });
  });
  $("ws-move").addEventListener("click", move);
  $("ws-clear").addEventListener("click", function () { state.selection.clear(); renderSelection(); });
  $("ws-undo").addEventListener("click", function () { undoRedo("undo"); });
  $("ws-redo").addEventListener("click", function () { undoRedo("redo"); });
  $("ws-reshape").addEventListener("click", startReshape);
  $("ws-reshape-save").addEventListener("click", saveReshape);
  $("ws-reshape-cancel").addEventListener("click", function () { endReshape(); message(""); });
  $("ws-find-unit").addEventListener("submit", function (event) {
    event.preventDefault();
    var code = $("ws-unit-code").value.trim().toLowerCase();
    var id = unitCodes[code];
    if (!id) { message("No geo unit “" + $("ws-unit-code").value + "” in view; pan or zoom to it first.", "error"); return; }
    setTarget("units");
    state.selection.add(id);
    renderSelection();
    $("ws-unit-code").value = "";
  });
  document.addEventListener("keydown", function (event) {
    var typing = /^(INPUT|SELECT|TEXTAREA)$/.test(event.target.tagName);
    if (typing || !(event.ctrlKey || event.metaKey) || event.key.toLowerCase() !== "z" && event.key.toLowerCase() !== "y") { return; }
    event.preventDefault();
    undoRedo(event.key.toLowerCase() === "y" || event.shiftKey ? "redo" : "undo");
  });
  var moveTimer = null;
  map.on("moveend", function () {
    clearTimeout(moveTimer);
    moveTimer = setTimeout(function () {
      loadBoundaries(false);
      loadUnits();
      if (state.accountsMode !== "tiles" || map.getZoom() >= 12) { loadAccounts(); }
    }, 150);
  });
  map.on("click", function () { if (state.tool === "click") { focusTerritory(null, false); } });

  if (window.matchMedia("(max-width: 900px)").matches) { $("ws-tree-panel").open = false; }
  if (!state.scenario) {
    message("There is no scenario yet. Create one on the scenarios page.", "info");
    return;
  }
  loadTree().then(function () { return loadBalance(); }).then(function () {
    var bounds = null;
    state.tree.forEach(function (t) {
      // A territory across the antimeridian (the Aleutians) has a world-wide extent: leave it out of the view.
      if (t.bbox && t.is_leaf && t.bbox[2] - t.bbox[0] < 90) {
        var b = L.latLngBounds([t.bbox[1], t.bbox[0]], [t.bbox[3], t.bbox[2]]);
        bounds = bounds ? bounds.extend(b) : b;
      }
    });
    if (bounds) { map.fitBounds(bounds, {padding: [10, 10]}); }
    return Promise.all([loadBoundaries(true), loadUnits(), loadAccounts(), loadCompare()]);
  }).then(function () {
    document.body.setAttribute("data-workspace-ready", "true");
  }).catch(function (error) { message(error.message || "The map could not be loaded.", "error"); });
  window.workspace = {state: state, map: map};
})();
