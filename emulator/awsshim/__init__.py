"""The local AWS emulator: moto's server app behind a WSGI middleware, "the shim". `emulator/shim.py`
launches it (`process.main`); emulator/README.md, *Layout*, lists the modules and how to add an operation."""
