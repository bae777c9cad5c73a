"""PAII sandbox: local, stateful stand-ins of the services PAII talks to (see services/)."""
