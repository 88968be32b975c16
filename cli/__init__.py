"""The ``eftgan`` command line (installed as the import package ``eftgan_cli``)."""
