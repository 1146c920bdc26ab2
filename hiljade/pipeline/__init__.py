"""Locating posts: EXIF, text coordinates and map links, the Serbian geoparser, the geocoder."""

from hiljade.compiled import choose

choose()  # the compiled locating modules, or their Python sources (see hiljade/compiled.py)
