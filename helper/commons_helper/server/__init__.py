"""The helper service's aiohttp application (``app.create_app`` is the only place it is assembled)."""
