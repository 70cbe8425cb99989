"""The WSGI application gunicorn serves (bin/start): Django's handler with a shorter middleware
chain for API calls made with an API key (dispatch_site/handlers.py)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatch_site.settings")
django.setup(set_prefix=False)

from dispatch_site.handlers import DispatchSiteHandler  # noqa: E402 - needs the apps loaded

application = DispatchSiteHandler()
