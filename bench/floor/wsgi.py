"""gunicorn entry point for the floor (`bench.floor.wsgi:application`), always on the floor's settings."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.floor.settings"  # never the product's, whatever the environment says
application = get_wsgi_application()
