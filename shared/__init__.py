"""codo's domain: settings, logging, database and tenancy, models and the domain services."""
