"""cocotb-side test benches: run inside the simulator by ``cocotb_tools.runner``, never
collected by pytest (``*_tests.py`` names, outside ``tests/``). The pytest side lives in
:mod:`sim.backends`."""
