"""The product's vocabulary: subjects, grade bands, regions and compliance frameworks.

Stored values are the seed document's codes (`mathematics`, `elementary`, `us_east`, `GDPR`).
Domain, not plumbing, and below every app: models, the engine's callers, forms, serializers and
the demo world all name things with it. It imports only Django (choices); migrations copy the
choices and never import it.
"""

from django.db import models


class Subject(models.TextChoices):
    MATHEMATICS = "mathematics", "Mathematics"
    SCIENCE = "science", "Science"
    LANGUAGE_ARTS = "language_arts", "Language arts"
    SOCIAL_STUDIES = "social_studies", "Social studies"
    COMPUTER_SCIENCE = "computer_science", "Computer science"
    WORLD_LANGUAGES = "world_languages", "World languages"
    ARTS = "arts", "Arts"
    HEALTH_PE = "health_pe", "Health & PE"


class GradeBand(models.TextChoices):
    EARLY_CHILDHOOD = "early_childhood", "Early childhood (Pre-K to K)"
    ELEMENTARY = "elementary", "Elementary (grades 1-5)"
    MIDDLE = "middle", "Middle (grades 6-8)"
    HIGH = "high", "High (grades 9-12)"
    ADULT = "adult", "Adult education"
    SPECIAL = "special", "Special needs"


# The youngest age of each grade band (compliance's age rules read it; a band is "under 13" when its
# youngest age is below 13). Special needs counts from 3, the youngest any band may hold.
GRADE_BAND_YOUNGEST_AGE: dict[str, int] = {
    GradeBand.EARLY_CHILDHOOD.value: 3,
    GradeBand.ELEMENTARY.value: 6,
    GradeBand.MIDDLE.value: 11,
    GradeBand.HIGH.value: 14,
    GradeBand.ADULT.value: 18,
    GradeBand.SPECIAL.value: 3,
}


class Region(models.TextChoices):
    US_EAST = "us_east", "US East"
    US_WEST = "us_west", "US West"
    CA_CENTRAL = "ca_central", "Canada Central"
    EU_WEST = "eu_west", "EU West"
    EU_CENTRAL = "eu_central", "EU Central"
    UK_SOUTH = "uk_south", "UK South"
    APAC_SINGAPORE = "apac_singapore", "APAC Singapore"
    APAC_SYDNEY = "apac_sydney", "APAC Sydney"
    AFRICA_SOUTH = "africa_south", "Africa South"
    SA_EAST = "sa_east", "South America East"


class Framework(models.TextChoices):
    FERPA = "FERPA", "FERPA"
    COPPA = "COPPA", "COPPA"
    GDPR = "GDPR", "GDPR"
    UK_GDPR = "UK_GDPR", "UK GDPR"
    PDPA = "PDPA", "PDPA"
    POPIA = "POPIA", "POPIA"
    PIPEDA = "PIPEDA", "PIPEDA"
    LGPD = "LGPD", "LGPD"
    APP = "APP", "Australian Privacy Principles"
    ISO27001 = "ISO27001", "ISO 27001"
    SOC2 = "SOC2", "SOC 2"
