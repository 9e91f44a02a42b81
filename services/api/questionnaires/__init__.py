"""Questionnaires on the web: the admins' and coordinators' pages and API, and the public pages a
personal link opens."""
