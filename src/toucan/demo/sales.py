"""A deterministic synthetic sales dataset."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

COUNTRIES = {
    "France": "Europe",
    "Spain": "Europe",
    "Germany": "Europe",
    "United States": "Americas",
    "Brazil": "Americas",
    "Japan": "Asia",
}
PRODUCTS = {
    "Espresso machine": "Kitchen",
    "Kettle": "Kitchen",
    "Blender": "Kitchen",
    "Desk lamp": "Home",
    "Armchair": "Home",
    "Rug": "Home",
    "Headphones": "Electronics",
    "Speaker": "Electronics",
}
PRICES = {
    "Espresso machine": 320,
    "Kettle": 45,
    "Blender": 90,
    "Desk lamp": 60,
    "Armchair": 450,
    "Rug": 180,
    "Headphones": 150,
    "Speaker": 220,
}
CHANNELS = ["Web", "Store", "Partner", "Phone"]


def sales_rows(n: int = 5000, seed: int = 0) -> list[dict[str, Any]]:
    """`n` sales between 2023-01-01 and 2024-12-31; the same rows for the same seed."""
    rng = random.Random(seed)
    start = date(2023, 1, 1)
    countries = list(COUNTRIES)
    products = list(PRODUCTS)
    rows = []
    for _ in range(n):
        day = start + timedelta(days=rng.randrange(731))
        country = rng.choices(countries, weights=[5, 3, 4, 6, 2, 3])[0]
        product = rng.choice(products)
        units = rng.randint(1, 12)
        # Growth over time and a seasonal peak in December make the stories worth telling.
        growth = 1 + (day - start).days / 1500 + (0.25 if day.month == 12 else 0)
        revenue = round(units * PRICES[product] * growth * rng.uniform(0.85, 1.1), 2)
        rows.append(
            {
                "date": day,
                "year": day.year,
                "month": day.strftime("%Y-%m"),
                "country": country,
                "region": COUNTRIES[country],
                "product": product,
                "category": PRODUCTS[product],
                "channel": rng.choices(CHANNELS, weights=[5, 4, 2, 1])[0],
                "units": units,
                "revenue": revenue,
                "cost": round(revenue * rng.uniform(0.45, 0.7), 2),
            }
        )
    return rows
