"""Matching: suggestions, cohort runs and the life of a match."""
