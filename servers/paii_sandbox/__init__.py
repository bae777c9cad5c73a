"""PAII sandbox: local stand-ins of the services PAII talks to (minimal package marker; the sandbox
framework, its registry and CLI are built on the `sandbox` branch)."""
