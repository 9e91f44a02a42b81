"""Contacts: the JSON API and the pages of people, their fields, imports and exports."""
