/* The basemap: a configured tile server, or hiljade's own street lines and named areas
   (GET /api/basemap?bbox=), drawn by Leaflet as vector layers. Sends nothing to anyone else
   unless a tile server is configured. */
(function () {
  "use strict";
  var MAX_SPAN = 2.0;

  function label(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  window.hiljadeBasemap = function (map, settings) {
    if (settings.tiles) {
      L.tileLayer(settings.tiles, {maxZoom: 19, attribution: settings.attribution}).addTo(map);
      return;
    }
    map.attributionControl.addAttribution(settings.words["basemap.note"]);
    var areas = L.layerGroup().addTo(map);
    var streets = L.layerGroup().addTo(map);
    var pending = null, timer = null, lastKey = "";

    function draw(data) {
      areas.clearLayers();
      streets.clearLayers();
      L.geoJSON(data, {
        filter: function (f) { return f.properties.kind === "area"; },
        style: function () {
          return {className: "bm-area", color: "#9a9aa8", weight: 1, fillColor: "#efeee8", fillOpacity: 0.5};
        },
        onEachFeature: function (f, layer) {
          layer.bindTooltip(label(f.properties.name), {sticky: true});
        }
      }).addTo(areas);
      L.geoJSON(data, {
        filter: function (f) { return f.properties.kind !== "area"; },
        style: function (f) {
          return {className: "bm-street", color: "#8c8c8c", weight: map.getZoom() >= 16 ? 4 : 2, opacity: 0.9};
        },
        onEachFeature: function (f, layer) {
          layer.bindTooltip(label(f.properties.name), {sticky: true});
        }
      }).addTo(streets);
      map.getContainer().setAttribute("data-basemap", String(data.features.length));
    }

    function refresh() {
      var b = map.getBounds().pad(0.25);
      var west = Math.max(b.getWest(), -180), east = Math.min(b.getEast(), 180);
      var south = Math.max(b.getSouth(), -90), north = Math.min(b.getNorth(), 90);
      if (east - west > MAX_SPAN || north - south > MAX_SPAN) {
        areas.clearLayers();
        streets.clearLayers();
        return;
      }
      var key = [west, south, east, north].map(function (v) { return v.toFixed(4); }).join(",");
      if (key === lastKey) { return; }
      lastKey = key;
      if (pending) { pending.abort(); }
      pending = new AbortController();
      fetch("/api/basemap?bbox=" + key, {signal: pending.signal})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) { draw(data); } })
        .catch(function () {});
    }

    map.on("moveend", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 150);
    });
    refresh();
  };
})();
