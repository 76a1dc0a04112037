"""Constants of the FPGA layer template's LUT and FF formulas (docs/cost-models.md#fpga), their
sources, and the physical lower bounds `dse calibrate` fits them within.

Kept apart from fpga.py so target files can carry fitted values (`dse calibrate`) without an
import cycle: targets.py reads them, fpga.py applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# FINN-R (Blott et al., ACM TRETS 2018) / FINN MVAU lut_estimation constants
FINN_LUT_CONTROL = 300  # c0: per-layer control LUTs
FINN_LUT_PER_UNIT_FACTOR = 1.1  # c1: multiplies the per-PE datapath LUTs
LUTRAM_MAX_DEPTH = 128  # FINN: "memories up to 128 deep get implemented in LUTs"
# yosys 0.23 synth_xilinx of 63 comparisons of one signed 41-bit value with sorted random constants
# (benchmarks/synthesis/compare_bank.py): 541 LUTs for 63 x 41 = 2,583 compared bits
COMPARE_BANK_LUTS_PER_BIT = 0.21


@dataclass(frozen=True)
class TemplateConstants:
    """Coefficients that turn the template's structural counts (fpga.LayerCounts) into LUTs and FFs.

    Defaults and their sources: control_luts = 300 and lut_per_unit_bit = 1.1 are FINN-R's c0 and c1
    (c1 also per adder bit of a LUT multiplier); lut_per_compare_bit = 0.21 from a yosys synthesis of a
    comparator bank (COMPARE_BANK_LUTS_PER_BIT); one LUT per LUTRAM LUT (the distributed-RAM primitives'
    own LUTs, UG474) and per ROM LUT (FINN's c2, a LUT6 holds 64 ROM bits); lut_per_counter_bit = 0
    (FINN-R's c0 holds the control logic); one FF per register bit and per counter bit and no per-layer
    FF constant (FINN models no FFs). `dse calibrate` fits them to synthesis reports within
    CONSTANT_BOUNDS.
    """

    control_luts: float = FINN_LUT_CONTROL
    lut_per_unit_bit: float = FINN_LUT_PER_UNIT_FACTOR
    lut_per_compare_bit: float = COMPARE_BANK_LUTS_PER_BIT
    lut_per_multiplier_bit: float = FINN_LUT_PER_UNIT_FACTOR
    lut_per_memory_lut: float = 1.0
    lut_per_rom_lut: float = 1.0
    lut_per_counter_bit: float = 0.0
    control_ffs: float = 0.0
    ff_per_unit_bit: float = 1.0
    ff_per_counter_bit: float = 1.0
    lutram_max_depth: int = LUTRAM_MAX_DEPTH

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


DEFAULT_CONSTANTS = TemplateConstants()
LUT_TERMS = ("control_luts", "lut_per_unit_bit", "lut_per_compare_bit", "lut_per_multiplier_bit",
             "lut_per_memory_lut", "lut_per_rom_lut", "lut_per_counter_bit")
FF_TERMS = ("control_ffs", "ff_per_unit_bit", "ff_per_counter_bit")


@dataclass(frozen=True)
class ConstantBound:
    """The smallest physically meaningful value of a fitted constant, and why; `fixed` when the structural
    count is exact and the constant is counted at that value, not fitted."""

    lower: float
    reason: str
    fixed: bool = False


CONSTANT_BOUNDS = {
    "control_luts": ConstantBound(0.0, "per-layer intercept for logic the structural counts leave out: never negative"),
    "lut_per_unit_bit": ConstantBound(0.5, "a datapath bit takes at least half a LUT6: an adder bit one LUT on "
                                           "the CARRY4 chain, a compare or mux bit at least half of one"),
    "lut_per_compare_bit": ConstantBound(1 / 6, "each bit compared with a constant enters some LUT6, which has "
                                                "six inputs"),
    "lut_per_multiplier_bit": ConstantBound(0.5, "an a x b multiplier in LUTs needs at least a b / 2 LUT6s (two "
                                                 "partial-product bits per LUT on the carry chain)"),
    "lut_per_memory_lut": ConstantBound(1.0, "a LUTRAM LUT is one LUT; the primitive count (fpga.lutram_primitive_luts) "
                                             "equals yosys's LUTRAM LUTs on every grid design, so it is counted, not fitted",
                                        fixed=True),
    "lut_per_rom_lut": ConstantBound(0.0, "a ROM column that is constant folds away (a layer with one scale makes "
                                          "its whole scale ROM constant)"),
    "lut_per_counter_bit": ConstantBound(0.0, "the per-layer control constant may hold the counters' logic"),
    "control_ffs": ConstantBound(0.0, "per-layer intercept for registers the structural counts leave out: never "
                                      "negative"),
    "ff_per_unit_bit": ConstantBound(1.0, "a register bit that stays in the fabric is one flip-flop"),
    "ff_per_counter_bit": ConstantBound(1.0, "a counter bit is one flip-flop"),
}
