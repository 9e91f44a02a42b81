"""Questionnaires that the people in a tandem fill in through a personal link, without an account."""
