"""Tasks, appointments, notifications and the personal calendar feed."""
