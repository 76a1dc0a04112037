"""The LUTs yosys spends per bit compared with a constant: the source of lut_per_compare_bit's default.

    python benchmarks/synthesis/compare_bank.py

A Q-SNN unit compares its H (qsnn_h_bits wide) with the 2^B - 1 constants of its threshold ROM
(cost_models/fpga.py, compare_bits). This benchmark builds the same structure apart from the
template: one registered signed 41-bit input compared with 63 sorted random constants (seed 1),
each result registered, synthesized with the grid's flow (yosys synth_xilinx -family xc7 -flatten),
and prints LUTs / (63 x 41). Measured with yosys 0.23 (versions.json): 541 LUTs, 0.21 LUT per bit
(cost_models/template_constants.py COMPARE_BANK_LUTS_PER_BIT). About 10 s.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cost_models.synthesis_reports import read_report  # noqa: E402

COMPARISONS, BITS, SEED = 63, 41, 1


def bank_verilog(comparisons: int = COMPARISONS, bits: int = BITS, seed: int = SEED) -> str:
    """A module comparing one signed input with `comparisons` sorted random constants, results registered."""
    rng = random.Random(seed)
    consts = sorted(rng.randrange(-2 ** (bits - 1), 2 ** (bits - 1)) for _ in range(comparisons))
    lines = [f"module cmpbank(input wire clk, input wire signed [{bits - 1}:0] x, output reg [{comparisons - 1}:0] ge);",
             "  always @(posedge clk) begin"]
    lines += [f"    ge[{i}] <= (x >= {'-' if c < 0 else ''}{bits}'sd{abs(c)});" for i, c in enumerate(consts)]
    lines += ["  end", "endmodule", ""]
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "cmpbank.v").write_text(bank_verilog())
        script = ("read_verilog cmpbank.v; synth_xilinx -family xc7 -flatten -top cmpbank; "
                  "tee -q -o stat.json stat -json")
        subprocess.run(["yosys", "-q", "-p", script], cwd=tmp, check=True, capture_output=True, text=True)
        counts = read_report(Path(tmp) / "stat.json")
    bits = COMPARISONS * BITS
    print(f"{COMPARISONS} comparisons of a {BITS}-bit value with constants: {counts.lut} LUTs, {counts.carry4} CARRY4, "
          f"{counts.lut / bits:.3f} LUT per compared bit ({bits} bits)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
