"""microstructure: Al-Si micrographs and the statistics that tell real from generated
(see issue #5; not built yet). Depends on :mod:`eftgan` for the element registry.
"""
