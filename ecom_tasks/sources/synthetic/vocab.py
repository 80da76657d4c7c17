"""Fixed vocabularies of the synthetic shop: categories, title words, prices and countries.

Kept apart from the simulation so the look of the shop can change without touching its dynamics.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategorySpec:
    """What the items of one category look like and how they are bought."""

    name: str
    median_price: float
    materials: tuple[str, ...]
    nouns: tuple[str, ...]
    consumable: bool = False  # bought again after a typical interval


ADJECTIVES: tuple[str, ...] = (
    "Rustic", "Modern", "Classic", "Vintage", "Minimal", "Deluxe", "Handmade", "Nordic",
    "Compact", "Elegant", "Everyday", "Organic", "Premium", "Coastal", "Bold", "Soft",
)  # fmt: skip

CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("Kitchen", 24.0, ("Oak", "Ceramic", "Steel", "Bamboo", "Cast Iron"),
                 ("Serving Bowl", "Chef Knife", "Cutting Board", "Saucepan", "Utensil Set")),
    CategorySpec("Home Decor", 32.0, ("Linen", "Brass", "Glass", "Rattan", "Marble"),
                 ("Vase", "Wall Mirror", "Candle Holder", "Throw Pillow", "Picture Frame")),
    CategorySpec("Coffee & Tea", 11.0, ("Arabica", "Green", "Earl Grey", "Rooibos", "Espresso"),
                 ("Beans 250g", "Tea Tin", "Ground Coffee", "Loose Leaf Pack", "Pods x20"),
                 consumable=True),
    CategorySpec("Garden", 28.0, ("Terracotta", "Galvanised", "Cedar", "Wicker", "Resin"),
                 ("Planter", "Watering Can", "Bird Feeder", "Trowel", "Seed Tray")),
    CategorySpec("Beauty", 15.0, ("Argan", "Shea", "Rose", "Aloe", "Charcoal"),
                 ("Face Cream", "Shampoo", "Body Lotion", "Lip Balm", "Soap Bar"),
                 consumable=True),
    CategorySpec("Stationery", 9.0, ("Recycled", "Leather", "Kraft", "Cotton", "Felt"),
                 ("Notebook", "Pen Set", "Planner", "Desk Organiser", "Sticky Notes")),
    CategorySpec("Pet Supplies", 18.0, ("Salmon", "Chicken", "Grain-Free", "Rope", "Fleece"),
                 ("Dog Food 2kg", "Cat Treats", "Chew Toy", "Pet Bed", "Litter Pack"),
                 consumable=True),
    CategorySpec("Toys", 21.0, ("Wooden", "Plush", "Magnetic", "Felt", "Cardboard"),
                 ("Puzzle", "Building Blocks", "Teddy Bear", "Train Set", "Board Game")),
    CategorySpec("Outdoor", 45.0, ("Canvas", "Aluminium", "Nylon", "Wool", "Waxed"),
                 ("Backpack", "Camping Lantern", "Picnic Blanket", "Water Bottle", "Hammock")),
    CategorySpec("Bath", 19.0, ("Cotton", "Waffle", "Eucalyptus", "Lavender", "Teak"),
                 ("Towel Set", "Bath Salts", "Bath Mat", "Shower Gel", "Soap Dish"),
                 consumable=True),
    CategorySpec("Pantry", 7.0, ("Smoked", "Wildflower", "Sea Salt", "Chilli", "Extra Virgin"),
                 ("Olive Oil", "Honey Jar", "Pasta 500g", "Spice Mix", "Granola"),
                 consumable=True),
    CategorySpec("Gadgets", 39.0, ("Wireless", "Braided", "Aluminium", "Silicone", "Solar"),
                 ("Charger", "Phone Stand", "Earbuds", "Desk Lamp", "Power Bank")),
)  # fmt: skip

GENERIC_MATERIALS: tuple[str, ...] = ("Oak", "Steel", "Cotton", "Glass", "Ceramic")
GENERIC_NOUNS: tuple[str, ...] = ("Set", "Kit", "Box", "Bundle", "Collection")

# Country codes and their share of customers: a UK-centred European shop.
COUNTRIES: tuple[str, ...] = ("GB", "DE", "FR", "NL", "IE", "ES", "IT", "SE", "US", "BE")
COUNTRY_WEIGHTS: tuple[float, ...] = (0.46, 0.12, 0.1, 0.06, 0.06, 0.05, 0.05, 0.04, 0.03, 0.03)

# Share of the day's sessions that start in each UTC hour: quiet nights, an evening peak.
HOURLY_WEIGHTS: tuple[float, ...] = (
    1.2, 0.8, 0.5, 0.4, 0.4, 0.6, 1.2, 2.2, 3.4, 4.2, 4.6, 4.8,
    5.0, 5.0, 4.8, 4.8, 5.0, 5.4, 6.2, 7.2, 7.8, 7.2, 5.2, 2.6,
)  # fmt: skip


def category_specs(n: int) -> tuple[CategorySpec, ...]:
    """The first ``n`` categories, padded with generic ones when more are asked for than defined."""
    specs = list(CATEGORIES[:n])
    for k in range(len(specs), n):
        specs.append(CategorySpec(f"Category {k + 1}", 20.0, GENERIC_MATERIALS, GENERIC_NOUNS))
    return tuple(specs)
