"""The platform: health and readiness probes, the organisation and its home page."""
