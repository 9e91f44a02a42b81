"""The server-rendered web app: templates, static assets, message catalogs and page context."""
