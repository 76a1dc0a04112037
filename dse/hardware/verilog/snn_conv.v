// One 3x3 convolution layer (padding 1, stride 1) of the snn-dse FPGA template, with its
// spiking neurons and an optional 2x2 pooling of the output spikes (docs/integer-semantics.md;
// docs/export.md, "Verilog template").
//
// P parallel units work on a group of P output channels. Timestep-major, dense gather: for each
// group g and each output position (y, x) the layer walks the CIN x 3 x 3 window (one cycle per
// tap: read the P weights of tap j for the group and the input value at (c, y+ky-1, x+kx-1),
// zero outside the map), then updates the P neurons of that position at once:
//   H = m (2^K - 1) 2^F + acc M;  h = round_half_even(H / 2^(F+K));  h = clamp(h, B bits);
//   spike = h >= 2^(B-2);  m_next = spike ? 0 : h
// and emits the P lanes serially (lowest channel first): every spike on sp_we/sp_idx (flat
// neuron index o*H*WD + y*WD + x) and the output map value on out_we/out_addr/out_data.
// Positions are visited in 2x2 blocks when pooling (floor mode: a block cut by an odd edge is
// updated but not written), so each pooled value is written once its 4th position is done:
// max pool = OR of the 4 spikes (1 bit), avg pool = their sum 0..4 (3 bits; the next layer's
// multiplier M carries the 1/4).
// Input values: BIN = 1: 0/1 (spikes, event frames: accumulate the weight); else signed A-bit
// codes (static input, or a pooled sum zero-extended) multiplied by the weight (LUT shift-add
// when LUT_MULT, else `*`).
// The added integer forms (docs/integer-semantics.md, "Added forms"), as in snn_layer.v:
//   WFORM 1 (TTQ, sign_scales): two accumulators per unit, acc+ (inputs of +1 codes) and acc-
//                 (inputs of -1 codes); I = acc+ M - acc- Mn (the scale word holds M and Mn).
//   WFORM 2 (TaWQ, per_timestep): TS = T code and scale sets; timestep t reads set t.
//   NEURON 1 (Q-SNN): level state j (B bits), H = j MA + I, a bank of 2L comparators per unit
//                 against the threshold ROM (Theta, B_1 .. B_2L): snn_qsnn.
//   NEURON 2 (MFP): reset-free V = (2^K - 1) V + 2^(K t) I (SB bits per neuron), spike iff
//                 V >= Theta_t from the threshold ROM (T words): snn_mfp.
// Every form keeps the schedule: per position 9 CIN tap cycles + S_POS, S_DRAIN, S_MUL, S_UPD,
// P emit cycles and S_NEXT, whatever WFORM and NEURON.
// Memories: weight ROM (depth TS x GROUPS x CIN*9, width P x W), scale ROM (depth TS x GROUPS,
// width NS x P x MB; NS = 2 for TTQ), state RAM (depth GROUPS x H*WD, width P x B, MFP: P x SB),
// threshold ROM (NEURON 1, 2: NTHR words of TW bits, read in parallel). The input and output
// feature maps live in the top (snn_top.v).
// The unit's multiplier and neuron updates are snn_wmul, snn_lif, snn_qsnn and snn_mfp of
// snn_layer.v (read it too).
`default_nettype none

module snn_conv #(
    parameter integer CIN = 1,         // input channels
    parameter integer H = 8,           // map height (input = output: padding 1)
    parameter integer WD = 8,          // map width
    parameter integer COUT = 4,        // output channels
    parameter integer P = 2,           // parallel units (output channels per group)
    parameter integer W = 4,           // weight bits
    parameter integer ENC = 0,         // stored code: 0 two's complement q; 1 odd levels j, q = 2j - (2^W - 1)
    parameter integer BIN = 1,         // 1: binary input values; 0: signed A-bit input codes
    parameter integer A = 2,           // input code bits (signed), BIN = 0 only
    parameter integer LUT_MULT = 1,    // BIN = 0: weight x input in LUTs (shift-add), else `*`
    parameter integer B = 8,           // membrane bits
    parameter integer ACC = 12,        // per-timestep accumulator bits
    parameter integer MB = 17,         // scale multiplier bits (unsigned M_i)
    parameter integer F = 10,          // fractional bits of M_i
    parameter integer K = 1,           // leak shift: tau = 2^K
    parameter integer POOL = 0,        // 0 none, 1 max (OR), 2 avg (sum 0..4)
    parameter WMEM = "w.mem",
    parameter SMEM = "s.mem",
    parameter WSTYLE = "block",
    parameter SSTYLE = "auto",
    parameter MSTYLE = "distributed",
    parameter integer WFORM = 0,       // 0 codes x M; 1 TTQ (M for +1 codes, Mn for -1 codes); 2 TaWQ (per timestep)
    parameter integer NEURON = 0,      // 0 LIF; 1 Q-SNN (level state, comparator bank); 2 MFP (reset-free integrator)
    parameter integer T = 1,           // timesteps (width of tstep)
    parameter integer TS = 1,          // weight and scale sets (TaWQ: T)
    parameter integer SB = 8,          // MFP: integrator state bits per neuron
    parameter integer NTHR = 1,        // threshold ROM words (Q-SNN: 2L + 1; MFP: T)
    parameter integer TW = 8,          // threshold ROM word bits (signed)
    parameter integer MA = 0,          // Q-SNN: leak multiplier Ma (unsigned, < 2^MB)
    parameter TMEM = "t.mem",          // $readmemh file of the threshold ROM (NEURON 1, 2)
    parameter TSTYLE = "auto",         // rom_style of the threshold ROM (read in parallel: LUT logic)
    // derived
    parameter integer FAN = CIN * 9,
    parameter integer GROUPS = (COUT + P - 1) / P,
    parameter integer HW = H * WD,
    parameter integer BS = (POOL != 0) ? 2 : 1,                        // block side
    parameter integer PH = H / BS,                                     // output map height
    parameter integer PWD = WD / BS,                                   // output map width
    parameter integer NBY = (H + BS - 1) / BS,
    parameter integer NBX = (WD + BS - 1) / BS,
    parameter integer OB = (POOL == 2) ? 3 : 1,                        // output value bits
    parameter integer N_INV = CIN * HW,
    parameter integer N_OUTV = COUT * PH * PWD,
    parameter integer N_NEUR = COUT * HW,
    parameter integer IAW = (N_INV > 1) ? $clog2(N_INV) : 1,
    parameter integer OVW = (N_OUTV > 1) ? $clog2(N_OUTV) : 1,
    parameter integer NNW = (N_NEUR > 1) ? $clog2(N_NEUR) : 1,
    parameter integer IDW = BIN ? 1 : A,
    parameter integer TBW = (T > 1) ? $clog2(T) : 1,
    parameter integer NS = (WFORM == 1) ? 2 : 1,                       // multipliers per unit
    parameter integer SW = (NEURON == 2) ? SB : B,                     // state bits per unit
    parameter integer SDEPTH = GROUPS * TS,
    parameter integer SAW = (SDEPTH > 1) ? $clog2(SDEPTH) : 1,
    parameter integer WDEPTH = GROUPS * FAN * TS,
    parameter integer WAW = (WDEPTH > 1) ? $clog2(WDEPTH) : 1,
    parameter integer GW = (GROUPS > 1) ? $clog2(GROUPS) : 1,
    parameter integer MDEPTH = GROUPS * HW,
    parameter integer MAW = (MDEPTH > 1) ? $clog2(MDEPTH) : 1,
    parameter integer CW = $clog2(CIN + 1),
    parameter integer YW = $clog2(H + 2) + 1,
    parameter integer XW = $clog2(WD + 2) + 1,
    parameter integer UW = $clog2(P + 1),
    parameter integer OCW = $clog2(GROUPS * P + 1)
) (
    input wire clk,
    input wire rst,
    input wire start,                    // pulse: run one timestep
    input wire first_step,               // t == 0: stored states read as 0
    input wire [TBW-1:0] tstep,          // t (TaWQ sets, MFP shift and threshold)
    output wire [IAW-1:0] in_raddr,      // input map read address c*H*WD + y*WD + x
    input wire [IDW-1:0] in_rdata,       // registered read data, one cycle after in_raddr
    output reg out_we,                   // one output map value
    output reg [OVW-1:0] out_addr,       // o*PH*PWD + py*PWD + px
    output reg [OB-1:0] out_data,
    output reg sp_we,                    // one output spike (before pooling)
    output reg [NNW-1:0] sp_idx,         // o*H*WD + y*WD + x
    output reg done                      // pulse: timestep finished
);
    // ---------------- memories ----------------
    (* rom_style = WSTYLE, ram_style = WSTYLE *) reg [P*W-1:0] wrom [0:WDEPTH-1];
    (* rom_style = SSTYLE, ram_style = SSTYLE *) reg [NS*P*MB-1:0] srom [0:SDEPTH-1];
    (* ram_style = MSTYLE *) reg [P*SW-1:0] mram [0:MDEPTH-1];
    integer init_i;
    initial begin
        $readmemh(WMEM, wrom);
        $readmemh(SMEM, srom);
        for (init_i = 0; init_i < MDEPTH; init_i = init_i + 1) mram[init_i] = {P*SW{1'b0}};
    end

    // threshold ROM (Q-SNN: Theta, B_1 .. B_2L; MFP: Theta_t), read in parallel as a flat vector
    wire [NTHR*TW-1:0] thr_flat;
    genvar tn;
    generate
        if (NEURON != 0) begin : th
            (* rom_style = TSTYLE, ram_style = TSTYLE *) reg [TW-1:0] trom [0:NTHR-1];
            initial $readmemh(TMEM, trom);
            for (tn = 0; tn < NTHR; tn = tn + 1) begin : rd
                assign thr_flat[tn*TW +: TW] = trom[tn];
            end
        end else begin : nth
            assign thr_flat = {NTHR*TW{1'b0}};
        end
    endgenerate

    // ---------------- control registers ----------------
    localparam [2:0] S_IDLE = 3'd0, S_POS = 3'd1, S_ACC = 3'd2, S_DRAIN = 3'd3,
                     S_MUL = 3'd4, S_UPD = 3'd5, S_EMIT = 3'd6, S_NEXT = 3'd7;
    reg [2:0] state;
    reg [GW-1:0] g;
    reg [OCW-1:0] obase;         // g * P
    reg [WAW-1:0] wbase;         // (t_set * GROUPS + g) * FAN
    reg [SAW-1:0] sbase;         // t_set * GROUPS (TaWQ)
    reg [MAW-1:0] mbase;         // g * H * WD
    reg [YW-1:0] by, dy;
    reg [XW-1:0] bx, dx;
    reg [CW-1:0] c;
    reg [1:0] ky, kx;
    reg [WAW-1:0] j;             // tap index c*9 + ky*3 + kx
    reg [UW-1:0] lane;
    reg v1;                      // read data of a tap inside the map is on w_rdata / in_rdata

    wire [YW-1:0] y = by * BS + dy;
    wire [XW-1:0] x = bx * BS + dx;
    wire [YW-1:0] iyp = y + ky;  // input row + 1
    wire [XW-1:0] ixp = x + kx;  // input column + 1
    wire inb = (iyp >= 1) && (iyp <= H) && (ixp >= 1) && (ixp <= WD);
    wire [IAW+YW+XW:0] raddr_full = c * HW + (iyp - 1) * WD + (ixp - 1);
    assign in_raddr = inb ? raddr_full[IAW-1:0] : {IAW{1'b0}};
    wire last_tap = (c == CIN - 1) && (ky == 2) && (kx == 2);

    // weight ROM (read every cycle at the current tap), scale ROM and state RAM (at the
    // current group and position: stable from S_POS to S_UPD)
    wire [WAW-1:0] w_raddr = wbase + j;
    reg [P*W-1:0] w_rdata;
    always @(posedge clk) w_rdata <= wrom[w_raddr];
    wire [MAW+YW+XW:0] maddr_full = mbase + y * WD + x;
    wire [MAW-1:0] m_addr = maddr_full[MAW-1:0];
    wire [SAW-1:0] s_addr = (TS > 1) ? sbase + g : g;
    reg [NS*P*MB-1:0] s_rdata;
    reg [P*SW-1:0] m_rdata;
    reg m_we;
    reg [P*SW-1:0] m_wdata;
    always @(posedge clk) begin
        s_rdata <= srom[s_addr];
        m_rdata <= mram[m_addr];
        if (m_we) mram[m_addr] <= m_wdata;
    end

    // ---------------- P units ----------------
    reg signed [ACC-1:0] acc [0:P-1];
    reg signed [ACC-1:0] accn [0:P-1];  // TTQ: inputs of -1 codes
    reg signed [ACC+MB:0] prod [0:P-1];
    reg signed [SW-1:0] m_cur [0:P-1];
    reg [P-1:0] spk;             // spikes of the position being emitted
    reg [OB-1:0] pacc [0:P-1];   // pooling accumulators
    wire [P-1:0] spike;
    wire [P*SW-1:0] m_next;
    wire signed [A-1:0] xin = in_rdata;

    genvar u;
    generate
        for (u = 0; u < P; u = u + 1) begin : unit
            wire [W-1:0] wbits = w_rdata[u*W +: W];
            wire signed [W+1:0] odd = {1'b0, wbits, 1'b0} - ((1 << W) - 1);
            wire signed [W:0] wval = ENC ? odd[W:0] : {wbits[W-1], wbits};
            wire signed [ACC-1:0] term;
            if (BIN) begin : ac
                assign term = in_rdata[0] ? wval : 0;
            end else begin : mac
                wire signed [W+A:0] p_full;
                snn_wmul #(.W(W), .ENC(ENC), .A(A), .LUT_MULT(LUT_MULT)) mul (
                    .wbits(wbits), .wval(wval), .x(xin), .p(p_full));
                assign term = p_full;
            end

            wire [MB-1:0] mval = s_rdata[u*MB +: MB];
            wire signed [SW-1:0] mst = first_step ? {SW{1'b0}} : m_rdata[u*SW +: SW];
            if (WFORM == 1) begin : ttq
                // acc+ sums the inputs of +1 codes, acc- those of -1 codes (term = q x)
                always @(posedge clk) begin
                    if (state == S_POS) begin
                        acc[u] <= 0;
                        accn[u] <= 0;
                    end else if (v1) begin
                        if (wval > 0) acc[u] <= acc[u] + term;
                        if (wval < 0) accn[u] <= accn[u] - term;
                    end
                end
                wire [MB-1:0] mneg = s_rdata[(P+u)*MB +: MB];
                always @(posedge clk) if (state == S_MUL) begin
                    prod[u] <= acc[u] * $signed({1'b0, mval}) - accn[u] * $signed({1'b0, mneg});
                    m_cur[u] <= mst;
                end
            end else begin : one
                always @(posedge clk) begin
                    if (state == S_POS) acc[u] <= 0;
                    else if (v1) acc[u] <= acc[u] + term;
                end
                always @(posedge clk) if (state == S_MUL) begin
                    prod[u] <= acc[u] * $signed({1'b0, mval});
                    m_cur[u] <= mst;
                end
            end

            wire valid_unit = ({1'b0, obase} + u) < COUT;
            if (NEURON == 1) begin : qsnn  // SW = B
                snn_qsnn #(.B(B), .ACC(ACC), .MB(MB), .MA(MA), .TW(TW), .NTHR(NTHR)) neuron (
                    .j(m_cur[u]), .prod(prod[u]), .thr(thr_flat), .valid(valid_unit), .spike(spike[u]),
                    .j_next(m_next[u*SW +: SW]));
            end else if (NEURON == 2) begin : mfp  // SW = SB
                snn_mfp #(.SB(SB), .ACC(ACC), .MB(MB), .K(K), .T(T), .TW(TW), .NTHR(NTHR), .TBW(TBW)) neuron (
                    .v(m_cur[u]), .prod(prod[u]), .tstep(tstep), .thr(thr_flat), .valid(valid_unit),
                    .spike(spike[u]), .v_next(m_next[u*SW +: SW]));
            end else begin : lif  // SW = B
                snn_lif #(.B(B), .ACC(ACC), .MB(MB), .F(F), .K(K)) neuron (
                    .m(m_cur[u]), .prod(prod[u]), .valid(valid_unit), .spike(spike[u]), .m_next(m_next[u*SW +: SW]));
            end

            // pooling accumulator: restarts at the first position of a block
            wire first_in_block = (dy == 0) && (dx == 0);
            always @(posedge clk) if (state == S_UPD) begin
                if (POOL == 2) pacc[u] <= (first_in_block ? {OB{1'b0}} : pacc[u]) + spike[u];
                else if (POOL == 1) pacc[u] <= (first_in_block ? {OB{1'b0}} : pacc[u]) | spike[u];
                else pacc[u] <= spike[u];
            end
        end
    endgenerate

    wire [OCW-1:0] o = obase + lane;
    wire [NNW+OCW:0] sp_full = o * HW + y * WD + x;
    wire [OVW+OCW:0] out_full = (POOL != 0) ? o * (PH * PWD) + by * PWD + bx : o * HW + y * WD + x;
    wire block_done = (POOL == 0) || ((dy == 1) && (dx == 1));

    always @(posedge clk) begin
        done <= 1'b0;
        out_we <= 1'b0;
        sp_we <= 1'b0;
        m_we <= 1'b0;
        if (rst) begin
            state <= S_IDLE;
            v1 <= 1'b0;
        end else begin
            v1 <= (state == S_ACC) && inb;
            case (state)
                S_IDLE: if (start) begin
                    g <= 0;
                    obase <= 0;
                    wbase <= (TS > 1) ? tstep * (GROUPS * FAN) : 0;
                    sbase <= (TS > 1) ? tstep * GROUPS : 0;
                    mbase <= 0;
                    by <= 0; bx <= 0; dy <= 0; dx <= 0;
                    state <= S_POS;
                end
                S_POS: begin
                    c <= 0; ky <= 0; kx <= 0; j <= 0;
                    state <= (y < H && x < WD) ? S_ACC : S_NEXT;  // a block cut by an odd edge
                end
                S_ACC: begin
                    j <= j + 1;
                    if (kx == 2) begin
                        kx <= 0;
                        if (ky == 2) begin
                            ky <= 0;
                            c <= c + 1;
                        end else ky <= ky + 1;
                    end else kx <= kx + 1;
                    if (last_tap) state <= S_DRAIN;
                end
                S_DRAIN: state <= S_MUL;  // the last tap accumulates
                S_MUL: state <= S_UPD;    // product register
                S_UPD: begin
                    m_we <= 1'b1;
                    m_wdata <= m_next;
                    spk <= spike;
                    lane <= 0;
                    state <= S_EMIT;
                end
                S_EMIT: begin
                    if (o < COUT) begin
                        if (spk[lane]) begin
                            sp_we <= 1'b1;
                            sp_idx <= sp_full[NNW-1:0];
                        end
                        if (block_done) begin
                            out_we <= 1'b1;
                            out_addr <= out_full[OVW-1:0];
                            out_data <= pacc[lane];
                        end
                    end
                    if (lane == P - 1) state <= S_NEXT;
                    else lane <= lane + 1;
                end
                S_NEXT: begin
                    state <= S_POS;
                    if (BS == 2 && dx == 0) dx <= 1;
                    else if (BS == 2 && dy == 0) begin dx <= 0; dy <= 1; end
                    else begin
                        dx <= 0; dy <= 0;
                        if (bx != NBX - 1) bx <= bx + 1;
                        else begin
                            bx <= 0;
                            if (by != NBY - 1) by <= by + 1;
                            else begin
                                by <= 0;
                                if (g == GROUPS - 1) begin
                                    done <= 1'b1;
                                    state <= S_IDLE;
                                end else begin
                                    g <= g + 1;
                                    obase <= obase + P;
                                    wbase <= wbase + FAN;
                                    mbase <= mbase + HW;
                                end
                            end
                        end
                    end
                end
                default: state <= S_IDLE;
            endcase
        end
    end

endmodule

`default_nettype wire
