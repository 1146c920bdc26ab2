/* The reviewers' desk: keyboard shortcuts (a accept, r reject, n next) and the review map
   (every candidate, the site, the sites nearby; click or drag to move the point). */
(function () {
  "use strict";

  function typing(target) {
    var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    return tag === "input" || tag === "textarea" || tag === "select" || (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var key = event.key.toLowerCase();
    if (key === "a") {
      var accept = document.getElementById("form-accept");
      if (accept) { event.preventDefault(); accept.requestSubmit ? accept.requestSubmit() : accept.submit(); }
    } else if (key === "r") {
      var reason = document.getElementById("reject-reason");
      if (reason) { event.preventDefault(); reason.focus(); }
    } else if (key === "n") {
      var next = document.getElementById("desk-next");
      if (next) { event.preventDefault(); window.location.assign(next.getAttribute("href")); }
    }
  });

  function label(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  function setPoint(latlng) {
    var lat = document.getElementById("move-lat"), lon = document.getElementById("move-lon");
    if (lat && lon) {
      lat.value = latlng.lat.toFixed(6);
      lon.value = latlng.lng.toFixed(6);
    }
  }

  var holder = document.getElementById("desk-review");
  var box = document.getElementById("desk-map");
  if (!holder || !box || typeof L === "undefined") { return; }
  var data = JSON.parse(holder.getAttribute("data-desk"));
  var sg = data.sighting;
  var map = L.map(box).setView([sg.lat, sg.lon], 17);
  if (window.hiljadeBasemap) {
    window.hiljadeBasemap(map, {tiles: data.tiles, attribution: data.attribution, words: data.words});
  }
  data.nearby.forEach(function (site) {
    L.circleMarker([site.lat, site.lon], {radius: 9, className: site.joins ? "desk-joins" : "desk-nearby",
                                          color: site.joins ? "#1b7f3b" : "#666"})
      .bindTooltip(label("site " + site.id + (site.joins ? " (joins)" : ""))).addTo(map);
  });
  data.candidates.forEach(function (c) {
    L.circle([c.lat, c.lon], {radius: Math.min(c.precision_m, 2000), className: "desk-precision",
                              color: c.id === sg.id ? "#c0392b" : "#2c6fbb", weight: 1, fillOpacity: 0.08})
      .addTo(map);
    L.circleMarker([c.lat, c.lon], {radius: 5, className: "desk-candidate", color: "#2c6fbb"})
      .bindTooltip(label(c.id + ": " + c.method + ", " + Math.round(c.precision_m) + " m" +
                         (c.chosen ? " *" : ""))).addTo(map);
  });
  var point = L.marker([sg.lat, sg.lon], {draggable: true, title: "sighting " + sg.id}).addTo(map);
  point.getElement().id = "desk-point";
  point.on("dragend", function () { setPoint(point.getLatLng()); });
  map.on("click", function (event) {
    point.setLatLng(event.latlng);
    setPoint(event.latlng);
  });
  box.setAttribute("data-ready", "1");
})();
