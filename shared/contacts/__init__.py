"""Contacts: people and partner organisations of a programme, their data, consents and timeline."""
