/* The public map: sites of the visible box (GET /api/sites?clusters=1), clustered: a box with too
   many sites comes as the server's grid counts, drawn as cluster markers that zoom in on a click;
   a box with fewer comes site by site into Leaflet.markercluster. Filters; place search. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  var settings = JSON.parse(el.getAttribute("data-settings"));
  var words = settings.words;
  var map = L.map(el, {maxZoom: 19}).setView([settings.center[0], settings.center[1]], settings.center[2]);
  window.hiljadeBasemap(map, settings);
  var cluster = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false, disableClusteringAtZoom: 18});
  var wedges = L.layerGroup();
  var grid = L.layerGroup();
  map.addLayer(cluster);
  map.addLayer(grid);
  map.addLayer(wedges);
  var note = document.getElementById("map-note");
  var loaded = null, pending = null, sites = [], markers = [];

  function field(list, key, value) {
    var dt = document.createElement("dt");
    dt.textContent = words[key];
    var dd = document.createElement("dd");
    dd.textContent = (value === null || value === undefined || value === "") ? words["site.unknown"] : String(value);
    list.appendChild(dt);
    list.appendChild(dd);
  }

  function popup(site) {
    var box = document.createElement("div");
    box.className = "popup";
    var list = document.createElement("dl");
    field(list, "site.reports", site.reports);
    field(list, "site.cameras", site.camera_count);
    field(list, "site.type", site.camera_type);
    field(list, "site.mount", site.camera_mount);
    field(list, "site.model", site.camera_model);
    field(list, "site.direction", site.camera_direction === null ? null : Math.round(site.camera_direction) + "°");
    field(list, "site.first_seen", site.first_seen);
    field(list, "site.last_seen", site.last_seen);
    box.appendChild(list);
    var link = document.createElement("a");
    link.href = "/sites/" + encodeURIComponent(site.id);
    link.textContent = words["site.more"];
    box.appendChild(link);
    return box;
  }

  function wedge(site) {
    var metres = 35, half = 30, points = [[site.lat, site.lon]];
    var toLat = 1 / 111320, toLon = 1 / (111320 * Math.cos(site.lat * Math.PI / 180));
    for (var a = site.camera_direction - half; a <= site.camera_direction + half; a += 10) {
      var r = a * Math.PI / 180;
      points.push([site.lat + metres * Math.cos(r) * toLat, site.lon + metres * Math.sin(r) * toLon]);
    }
    return L.polygon(points, {className: "wedge", color: "#c0392b", weight: 1, fillOpacity: 0.25, interactive: false});
  }

  function drawWedges() {
    wedges.clearLayers();
    if (map.getZoom() < 16) { return; }
    var view = map.getBounds();
    markers.forEach(function (marker) {
      var s = marker.site;
      // only a marker shown on its own gets its wedge: one inside a cluster would clutter the map
      if (s.camera_direction !== null && view.contains(marker.getLatLng()) &&
          cluster.getVisibleParent(marker) === marker) {
        wedges.addLayer(wedge(s));
      }
    });
  }

  // one square of the server's grid: its count, drawn like a markercluster cluster; a click zooms in
  function gridMarker(g) {
    var size = g.count < 10 ? "small" : (g.count < 100 ? "medium" : "large");
    var inner = document.createElement("div");
    var label = document.createElement("span");
    label.textContent = String(g.count);
    inner.appendChild(label);
    var icon = L.divIcon({html: inner, className: "marker-cluster marker-cluster-" + size, iconSize: [40, 40]});
    var marker = L.marker([g.lat, g.lon], {icon: icon, title: String(g.count)});
    marker.on("click", function () {
      var bounds = L.latLngBounds([g.bbox[1], g.bbox[0]], [g.bbox[3], g.bbox[2]]);
      var zoom = Math.max(map.getBoundsZoom(bounds), map.getZoom() + 1);
      map.setView(bounds.getCenter(), Math.min(zoom, map.getMaxZoom()));
    });
    return marker;
  }

  function filters() {
    var out = "";
    ["type", "since", "until", "status"].forEach(function (name) {
      var input = document.getElementById("filter-" + name);
      if (input && input.value) { out += "&" + name + "=" + encodeURIComponent(input.value); }
    });
    return out;
  }

  function load(force) {
    if (!force && loaded && !loaded.truncated && !loaded.grouped && loaded.box.contains(map.getBounds())) {
      drawWedges();
      return;
    }
    var b = map.getBounds().pad(0.5);
    var box = L.latLngBounds([Math.max(b.getSouth(), -90), Math.max(b.getWest(), -180)],
                             [Math.min(b.getNorth(), 90), Math.min(b.getEast(), 180)]);
    var bbox = [box.getWest(), box.getSouth(), box.getEast(), box.getNorth()]
      .map(function (v) { return v.toFixed(5); }).join(",");
    if (pending) { pending.abort(); }
    pending = new AbortController();
    fetch("/api/sites?clusters=1&bbox=" + bbox + filters(), {signal: pending.signal})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        sites = data.sites || [];
        var groups = data.clusters || [];
        loaded = {box: box, truncated: data.truncated, grouped: groups.length > 0};
        cluster.clearLayers();
        grid.clearLayers();
        groups.forEach(function (g) { grid.addLayer(gridMarker(g)); });
        markers = sites.map(function (s) {
          var icon = L.divIcon({className: "site-marker", iconSize: [14, 14]});
          var marker = L.marker([s.lat, s.lon], {icon: icon, title: words["site.title"] + " " + s.id})
            .bindPopup(function () { return popup(s); });
          marker.site = s;
          return marker;
        });
        cluster.addLayers(markers);
        drawWedges();
        var total = groups.length ? data.total : sites.length;
        note.textContent = data.truncated ? words["map.truncated"] : total + " " + words["map.shown"];
        el.setAttribute("data-sites", String(total));
      })
      .catch(function () {});
  }

  map.on("moveend", function () { load(false); });
  cluster.on("animationend", drawWedges);
  ["type", "since", "until", "status"].forEach(function (name) {
    var input = document.getElementById("filter-" + name);
    if (input) { input.addEventListener("change", function () { load(true); }); }
  });
  document.getElementById("tools").addEventListener("submit", function (event) {
    event.preventDefault();
    var q = document.getElementById("search").value.trim();
    if (!q) { return; }
    fetch("/api/search?q=" + encodeURIComponent(q))
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.places && data.places.length) {
          map.setView([data.places[0].lat, data.places[0].lon], 17);
          note.textContent = data.places[0].name;
        } else {
          note.textContent = words["map.search.none"];
        }
      })
      .catch(function () { note.textContent = words["map.search.none"]; });
  });
  window.hiljadeMap = {map: map, cluster: cluster};
  load(true);
})();
