"""Files that eftgan ships: default models (``models/``) and example structures (``examples/``).

Installed as the import package ``eftgan_data`` (never as a generic ``data``); code finds it
through :mod:`eftgan.paths`.
"""
