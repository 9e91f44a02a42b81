"""German postal codes to coordinates, offline, and distances in kilometres.

The table (``data/plz_geocoord.csv``, Apache 2.0, see ``data/SOURCE.md``) holds one WGS84
centroid per five-digit postal code. It is read once per process on first use.
"""

from __future__ import annotations

import csv
import functools
import io
from importlib import resources

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM = 6371.0088

FloatArray = npt.NDArray[np.float64]


@functools.cache
def _table() -> dict[str, tuple[float, float]]:
    raw = resources.files("shared.matching").joinpath("data/plz_geocoord.csv").read_text("utf-8")
    table: dict[str, tuple[float, float]] = {}
    for row in csv.DictReader(io.StringIO(raw)):
        # The first column has no header in the source file.
        table[row[""].strip()] = (float(row["lat"]), float(row["lng"]))
    return table


def normalise_postal_code(value: str | None) -> str | None:
    """Five digits, as Germans write them; ``"1067"`` (lost leading zero) becomes ``"01067"``."""
    if value is None:
        return None
    digits = value.strip().removeprefix("D-").removeprefix("DE-").strip()
    if not digits.isdigit() or not 4 <= len(digits) <= 5:
        return None
    return digits.zfill(5)


def coordinates(postal_code: str | None) -> tuple[float, float] | None:
    """(latitude, longitude) of a German postal code, or None if it is not in the table."""
    code = normalise_postal_code(postal_code)
    return _table().get(code) if code else None


def is_known(postal_code: str | None) -> bool:
    return coordinates(postal_code) is not None


def haversine_km(lat: FloatArray, lng: FloatArray, lats: FloatArray, lngs: FloatArray) -> FloatArray:
    """Great-circle distances; the arguments broadcast (NaN, an unknown place, stays NaN)."""
    phi1, phi2 = np.radians(lat), np.radians(lats)
    dphi = phi2 - phi1
    dlmb = np.radians(lngs) - np.radians(lng)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return result


def distance_km(a: str | None, b: str | None) -> float | None:
    """Distance between the centroids of two postal codes; None if either is unknown."""
    pa, pb = coordinates(a), coordinates(b)
    if pa is None or pb is None:
        return None
    d = haversine_km(np.array(pa[0]), np.array(pa[1]), np.array(pb[0]), np.array(pb[1]))
    return float(d)
