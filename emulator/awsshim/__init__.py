"""The local AWS emulator: moto's server app behind a WSGI middleware, "the shim" (see emulator/README.md)."""
