"""The licence of what hiljade exports: positions derived from OpenStreetMap are under the ODbL."""

from __future__ import annotations

LICENCE = "ODbL-1.0"
LICENCE_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
ATTRIBUTION = "© OpenStreetMap contributors"
ATTRIBUTION_URL = "https://www.openstreetmap.org/copyright"
ATTRIBUTION_LINE = f"{ATTRIBUTION}, {LICENCE} ({LICENCE_URL}); see {ATTRIBUTION_URL}"
LICENCE_FILE = "LICENCE.txt"
LICENCE_TEXT = f"""\
Positions in these files were found with the help of OpenStreetMap data (street, square and
landmark names and shapes in hiljade's gazetteer, and the Nominatim geocoder):

    {ATTRIBUTION}
    The data is available under the Open Database License, {LICENCE}: {LICENCE_URL}
    {ATTRIBUTION_URL}

Whoever publishes or shares these files, or a map or database made from them, keeps this
attribution with them. A database made from them stays under the ODbL (share-alike).
"""
