"""Intake and preparation: public sign-up forms with double opt-in, the screening pipeline of each
programme (with the extended criminal-record certificate as § 72a SGB VIII allows to record it),
readiness for matching, events with invitations and attendance, and the form of address."""
