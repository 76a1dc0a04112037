"""Constants of the FPGA layer template's LUT and FF formulas (docs/cost-models.md#fpga).

Kept apart from fpga.py so target files can carry fitted values (`dse calibrate`) without an
import cycle: targets.py reads them, fpga.py applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# FINN-R (Blott et al., ACM TRETS 2018) / FINN MVAU lut_estimation constants
FINN_LUT_CONTROL = 300  # c0: per-layer control LUTs
FINN_LUT_PER_UNIT_FACTOR = 1.1  # c1: multiplies the per-PE datapath LUTs
LUTRAM_MAX_DEPTH = 128  # FINN: "memories up to 128 deep get implemented in LUTs"


@dataclass(frozen=True)
class TemplateConstants:
    """Coefficients that turn the template's structural counts into LUTs and FFs.

    Defaults: FINN-R's c0 = 300 control LUTs and c1 = 1.1 per datapath LUT, one LUT per
    LUTRAM LUT, one FF per register bit. `dse calibrate` fits them to synthesis reports.
    """

    control_luts: float = FINN_LUT_CONTROL
    lut_per_unit_bit: float = FINN_LUT_PER_UNIT_FACTOR
    lut_per_multiplier_lut: float = FINN_LUT_PER_UNIT_FACTOR
    lut_per_memory_lut: float = 1.0
    control_ffs: float = 0.0
    ff_per_unit_bit: float = 1.0
    ff_per_counter_bit: float = 1.0
    lutram_max_depth: int = LUTRAM_MAX_DEPTH

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


DEFAULT_CONSTANTS = TemplateConstants()
LUT_TERMS = ("control_luts", "lut_per_unit_bit", "lut_per_multiplier_lut", "lut_per_memory_lut")
FF_TERMS = ("control_ffs", "ff_per_unit_bit", "ff_per_counter_bit")
