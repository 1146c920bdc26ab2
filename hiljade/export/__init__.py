"""Exports: CSV, JSON lines, GeoJSON, OSM."""
