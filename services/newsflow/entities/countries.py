"""One name per country: "U.S.", "US", "the United States" and "America" are "United States".

Names come from pycountry (ISO 3166: official, short and common names). News writes
countries in ways ISO does not list, so a small explicit table adds those aliases, and
another picks the name news readers know where ISO's short name is a formal or inverted one.
"""

from __future__ import annotations

import re
from functools import cache

import pycountry

from newsflow.core.names import fold

# ISO alpha-2 code -> the name a news reader knows, where pycountry's short name is formal,
# inverted ("Congo, The Democratic Republic of the") or has no `common_name`.
DISPLAY_NAMES: dict[str, str] = {
    "BN": "Brunei",
    "CD": "Democratic Republic of the Congo",
    "FM": "Micronesia",
    "PS": "Palestine",
    "RU": "Russia",
    "TR": "Turkey",
    "VA": "Vatican City",
    "VG": "British Virgin Islands",
    "VI": "U.S. Virgin Islands",
}

# Written forms ISO does not list. Abbreviations are matched with their exact case (so the
# pronoun "us" is never the United States); names are matched ignoring case and accents.
ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("U.S.", "US", "U.S.A.", "USA", "America", "United States of America"),
    "GB": ("U.K.", "UK", "Britain", "Great Britain"),
    "AE": ("UAE", "U.A.E."),
    "KR": ("Republic of Korea", "S. Korea"),
    "KP": ("DPRK", "N. Korea"),
    "CN": ("PRC", "People's Republic of China", "Mainland China"),
    "CD": ("DRC", "DR Congo", "Democratic Republic of Congo", "Congo-Kinshasa"),
    "CG": ("Republic of Congo", "Congo-Brazzaville"),
    "CI": ("Ivory Coast",),
    "CV": ("Cape Verde",),
    "CZ": ("Czech Republic",),
    "MK": ("Macedonia",),
    "MM": ("Burma",),
    "NL": ("Holland",),
    "PS": ("Palestinian Territories",),
    "SZ": ("Swaziland",),
    "TL": ("East Timor",),
    "TR": ("Türkiye", "Turkiye"),
    "VA": ("Vatican", "Holy See"),
}

_ABBREVIATION = re.compile(r"^(?:[A-Z]\.){2,}$|^[A-Z]{2,4}$")
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)


def display_name(alpha_2: str) -> str:
    country = pycountry.countries.get(alpha_2=alpha_2)
    if country is None:
        raise KeyError(alpha_2)
    return DISPLAY_NAMES.get(alpha_2) or getattr(country, "common_name", None) or country.name


@cache
def _index() -> tuple[dict[str, str], dict[str, str]]:
    """(exact abbreviations -> display name, folded names -> display name)."""
    abbreviations: dict[str, str] = {}
    names: dict[str, str] = {}
    for country in pycountry.countries:
        display = display_name(country.alpha_2)
        written = [country.name, display, *ALIASES.get(country.alpha_2, ())]
        written += [getattr(country, key, None) or "" for key in ("official_name", "common_name")]
        for form in filter(None, written):
            if _ABBREVIATION.match(form):
                abbreviations[form] = display
            else:
                names[fold(_LEADING_THE.sub("", form))] = display
    return abbreviations, names


def country_name(text: str) -> str | None:
    """The one name of the country `text` names ("the U.S." -> "United States"), or None."""
    text = _LEADING_THE.sub("", " ".join(text.split()))
    abbreviations, names = _index()
    return abbreviations.get(text) or names.get(fold(text))
