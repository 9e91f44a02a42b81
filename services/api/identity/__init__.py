"""Members, invitations, API tokens, sign-in and the organisation's settings and audit log."""
