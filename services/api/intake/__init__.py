"""Intake: screening, events and the public sign-up forms."""
