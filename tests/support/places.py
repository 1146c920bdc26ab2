"""Small places of central Belgrade for end-to-end tests: GeoJSON streets as OpenStreetMap tags
them, an area polygon around them, a point, and a rough distance in metres."""

from __future__ import annotations

import math

# Two crossing streets and a landmark in central Belgrade, tagged as OpenStreetMap tags them.
STREETS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {
                "highway": "residential",
                "name": "Дечанска",
                "name:sr": "Дечанска",
                "name:sr-Latn": "Dečanska",
                "old_name": "Моше Пијаде",
                "osm_id": 1,
                "osm_type": "way",
            },
            "geometry": {
                "type": "LineString",
                "coordinates": [[20.4590, 44.8160], [20.4623, 44.8157], [20.4660, 44.8154]],
            },
        },
        {
            "type": "Feature",
            "properties": {
                "highway": "residential",
                "name": "Македонска",
                "name:sr": "Македонска",
                "name:sr-Latn": "Makedonska",
                "osm_id": 2,
                "osm_type": "way",
            },
            "geometry": {
                "type": "LineString",
                "coordinates": [[20.4620, 44.8130], [20.4623, 44.8157], [20.4627, 44.8185]],
            },
        },
        {
            "type": "Feature",
            "properties": {
                "amenity": "arts_centre",
                "name": "Дом омладине",
                "name:sr-Latn": "Dom omladine",
                "osm_id": 3,
                "osm_type": "node",
            },
            "geometry": {"type": "Point", "coordinates": [20.4630, 44.8150]},
        },
    ],
}
AREA = {
    "type": "Polygon",
    "coordinates": [[[20.40, 44.78], [20.52, 44.78], [20.52, 44.85], [20.40, 44.85], [20.40, 44.78]]],
}

# One street in central Belgrade (with AREA: enough for `hiljade process` to run).
STREET = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {
                "highway": "residential",
                "name": "Таковска",
                "name:sr-Latn": "Takovska",
                "osm_id": 1,
                "osm_type": "way",
            },
            "geometry": {"type": "LineString", "coordinates": [[20.4700, 44.8130], [20.4760, 44.8110]]},
        }
    ],
}
TAKOVSKA = (44.8121, 20.4731)  # a point on STREET


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The distance in metres between two (lat, lon) points, close enough for a few kilometres."""
    dy = (a[0] - b[0]) * 111_320
    dx = (a[1] - b[1]) * 111_320 * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)
