/* A site page's small map: the site, its direction wedge, the basemap around it. */
(function () {
  "use strict";
  var el = document.getElementById("site-map");
  var settings = JSON.parse(el.getAttribute("data-settings"));
  var site = JSON.parse(el.getAttribute("data-site"));
  var map = L.map(el, {maxZoom: 19}).setView([site.lat, site.lon], 18);
  window.hiljadeBasemap(map, settings);
  L.marker([site.lat, site.lon], {icon: L.divIcon({className: "site-marker", iconSize: [14, 14]})}).addTo(map);
  if (site.camera_direction !== null) {
    var metres = 35, half = 30, points = [[site.lat, site.lon]];
    var toLat = 1 / 111320, toLon = 1 / (111320 * Math.cos(site.lat * Math.PI / 180));
    for (var a = site.camera_direction - half; a <= site.camera_direction + half; a += 10) {
      var r = a * Math.PI / 180;
      points.push([site.lat + metres * Math.cos(r) * toLat, site.lon + metres * Math.sin(r) * toLon]);
    }
    L.polygon(points, {className: "wedge", color: "#c0392b", weight: 1, fillOpacity: 0.25}).addTo(map);
  }
})();
