"""The PAII sandbox: stateful local stand-ins for the services PAII talks to.

One process on 127.0.0.1 serves one ASGI app per service (``services/<name>.py``) on
``port_base + PORT_OFFSET``, all seeded from one editable world (``seed.yaml``), with faults
on demand. ``paii sandbox --help`` and README's "Try it without accounts" say how to use it.
"""

__version__ = "0.1.0"
