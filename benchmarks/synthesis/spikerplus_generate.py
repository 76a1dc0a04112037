"""Generate a Spiker+ (PyPI `spikerplus` 2.0.3) fully connected LIF design as VHDL, for the cross-check.

    python spikerplus_generate.py N_IN N_HIDDEN N_OUT WEIGHT_BITS NEURON_BITS OUT_DIR

Run it with a Python that has spikerplus, snntorch and tabulate (a scratch venv, not .venv):
it builds Spiker+'s own network (net_builder.SNN: two LIF layers, beta 0.5, threshold 1.0,
subtractive reset: its 'zero' reset fails in VhdlGenerator 2.0.3 for layers of more than one
neuron, v_reset is not repeated per neuron), and writes the VHDL with VhdlGenerator.
Then (docs/cost-models.md, section 12): ghdl -i --std=08 *.vhd; ghdl -m --std=08 network;
ghdl --synth --std=08 --out=verilog network > network.v; yosys synth_xilinx -flatten -top network.
"""

import sys

import torch
from spikerplus.net_builder import SNN
from spikerplus.vhdl_generator import VhdlGenerator

torch.set_num_threads(1)
n_in, n_hid, n_out, wbw, nbw = (int(v) for v in sys.argv[1:6])
lif = {"neuron_model": "lif", "alpha": None, "learn_alpha": False, "beta": 0.5, "learn_beta": False,
       "threshold": 1.0, "learn_threshold": False, "reset_mechanism": "subtract"}
net_dict = {"n_cycles": 4, "n_inputs": n_in, "layer_0": {**lif, "n_neurons": n_hid}, "layer_1": {**lif, "n_neurons": n_out}}
torch.manual_seed(0)
net = SNN(net_dict)
optim = {"weights_bw": wbw, "neurons_bw": nbw, "fp_dec": nbw // 2}
VhdlGenerator(net, optim).generate(functional=True, interface=False).write_file_all(output_dir=sys.argv[6])
print("wrote", sys.argv[6])
