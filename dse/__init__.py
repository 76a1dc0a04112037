"""dse: hardware-aware design-space exploration of quantized spiking neural networks."""

__version__ = "0.1.0"

import logging as _logging

# torch logs a warning per process when spikingjelly registers kernels and Triton is absent
# (every CPU machine); it says nothing about the user's run.
_logging.getLogger("torch._library.triton").setLevel(_logging.ERROR)
