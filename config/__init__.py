"""Project configuration. Importing it starts nothing: the Celery app (config/celery.py) is
loaded by Django's start (loyalty.apps), and by `celery -A config`, which finds it."""
