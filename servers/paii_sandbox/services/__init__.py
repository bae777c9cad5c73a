"""Sandbox services: one module per service (NAME, PORT_OFFSET, seed, create_app, env)."""
