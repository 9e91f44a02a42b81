"""Matching: profiles, the explained score of a pair, suggestions, cohort assignment, and the
life of a match with its accompaniment."""
