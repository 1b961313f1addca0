"""The compiled kernels (sim/*.pyx, see sim/_compiled.py); everything else is in pyproject.toml.

They are optional: without a C compiler (or, installing without build isolation, without
Cython, or numpy to build against) the package installs all the same and numpy computes the
same numbers, more slowly.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = ("_dice", "_books", "_mail", "_sale")


class OptionalKernels(build_ext):
    """Build the kernels if the C compiler can; if not, say so and install without them."""

    def run(self) -> None:
        """Build them all, or none."""
        try:
            super().run()
        except Exception as exc:  # no compiler, or one that fails: numpy does the work
            self.warn(f"the compiled kernels were not built ({exc}); numpy computes instead")
            self.extensions = []

    def get_outputs(self) -> list[str]:
        """The built kernels' files (none if they were not built)."""
        return super().get_outputs() if self.extensions else []

    def get_output_mapping(self) -> dict[str, str]:
        """Where an editable install finds each built kernel (nowhere if none was built)."""
        return super().get_output_mapping() if self.extensions else {}


try:
    import numpy
    from Cython.Build import cythonize
except ImportError:
    ext_modules = []
else:
    ext_modules = cythonize(
        [
            Extension(
                f"sim.{name}",
                [f"sim/{name}.pyx"],
                include_dirs=[numpy.get_include()],  # the loops take arrays by numpy's C API
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                # no fused multiply-add: every sum and product rounded as numpy rounds it
                extra_compile_args=["-ffp-contract=off"],
            )
            for name in KERNELS
        ],
        quiet=True,
    )

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalKernels})
