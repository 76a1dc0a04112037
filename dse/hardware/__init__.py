"""The FPGA template as Verilog (verilog_template), its iverilog testbench (testbench), synthetic designs (synthetic)."""
