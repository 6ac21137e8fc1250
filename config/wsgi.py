import os

from django.core.wsgi import get_wsgi_application

# A server started without DJANGO_SETTINGS_MODULE runs as production does, never with DEBUG
# or the development SECRET_KEY (`make run` and manage.py choose the local settings).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
