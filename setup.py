"""Package layout: the repository keeps the folders its users asked for and installs them as one
Python package, ``tatami``.

=========  ===============  ==============================================
folder     package          what it holds
=========  ===============  ==============================================
``sw/``    ``tatami``       config, CLI, assembler, runtime, kernels
``hw/``    ``tatami.hw``    Amaranth units
``sim/``   ``tatami.sim``   golden and performance models, simulation harness
``fpga/``  ``tatami.fpga``  board builds
=========  ===============  ==============================================

Everything else (name, version, dependencies) is in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

ROOTS = {"tatami": "sw", "tatami.hw": "hw", "tatami.sim": "sim", "tatami.fpga": "fpga"}

packages = []
for name, folder in ROOTS.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=ROOTS)
