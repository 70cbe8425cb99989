"""The request vocabulary's codes, copied from the product (providers/vocabulary.py) as plain values.

Copied, not imported, so the floor does not follow the product's modules around; a test checks the
lists still equal the product's, in the same order (the bench draws its requests from them).
"""

SUBJECTS = (
    "mathematics",
    "science",
    "language_arts",
    "social_studies",
    "computer_science",
    "world_languages",
    "arts",
    "health_pe",
)
GRADE_BANDS = ("early_childhood", "elementary", "middle", "high", "adult", "special")
REGIONS = (
    "us_east",
    "us_west",
    "ca_central",
    "eu_west",
    "eu_central",
    "uk_south",
    "apac_singapore",
    "apac_sydney",
    "africa_south",
    "sa_east",
)
