"""Tasks, appointments, reminders, notifications and the personal calendar feed."""
