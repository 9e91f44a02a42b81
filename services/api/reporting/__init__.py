"""Reporting's web home: the JSON API (api.py), the pages and the dashboard (pages.py)."""
