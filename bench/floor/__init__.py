"""The independent floor `make bench` measures `POST /dispatch` against (issue 14).

A Django project of its own, not the product's: Django with only contenttypes, auth and DRF, two
middleware, one DRF view that validates three choices and inserts one 11-column row. The product
never imports or mounts it, so nothing the product adds (its middleware, parser, authentication,
audit row) can leak into the floor; what must stay equal to the product (the vocabulary, the
database pool, the gunicorn configuration) is checked by bench/tests/test_floor.py.
"""
