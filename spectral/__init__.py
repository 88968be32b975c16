"""spectral: optical-emission (OES/LIBS) spectra of alloys (see issue #4; not built yet).

Depends on :mod:`eftgan` for the element registry (masses, ionization energies).
"""
