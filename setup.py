"""Build of cairn's C extension; all project metadata lives in pyproject.toml.

``-ffp-contract=off`` (and no ``-ffast-math``) is required: the PDQ core and the watermark votes must repeat
the reference's floating-point operations exactly, and a fused multiply-add would change hashes and votes.
Each extension is optional: if it does not build, cairn falls back to its (slower, exact) numpy path, or for the
hash-set bulk insert to ``sqlite3`` ``executemany``.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "cairn.signals.pdq._pdqcore",
            ["src/cairn/signals/pdq/_pdqcore.c"],
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-fast-math", "-std=c11"],
            optional=True,
        ),
        Extension(
            "cairn.matching._pdqindex",
            ["src/cairn/matching/_pdqindex.c"],
            extra_compile_args=["-O3", "-std=c11"],
            optional=True,
        ),
        Extension(
            "cairn.signals.provenance._dwtdct",
            ["src/cairn/signals/provenance/_dwtdct.c"],
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-fast-math", "-std=c11"],
            optional=True,
        ),
        Extension(
            "cairn.store._bulkinsert",
            ["src/cairn/store/_bulkinsert.c"],
            extra_compile_args=["-O2", "-std=c11", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        ),
    ]
)
