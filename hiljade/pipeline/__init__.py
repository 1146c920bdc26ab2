"""Locating posts: EXIF, text coordinates and map links, the Serbian geoparser, the geocoder."""
