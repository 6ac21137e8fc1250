"""The merchant backoffice beyond Django's model pages: dashboard, exports, bulk jobs."""
