"""Sandbox services, one module each (minimal package marker until the sandbox framework lands)."""
