// One weight layer of the snn-dse FPGA template (docs/cost-models.md, section 5;
// integer semantics in docs/integer-semantics.md).
//
// P parallel units. Neuron-major, event-driven: for each group g of P neurons the layer walks
// the input event list once (one cycle per event: read the P weights of input j for the group,
// every unit accumulates its weight, or weight x input code on the dense layer 0), then updates
// the P neurons at once:
//   hidden (LIF): H = m (2^K - 1) 2^F + acc M;  h = round_half_even(H / 2^(F+K));
//                 h = clamp(h, B bits); spike = h >= 2^(B-2); m_next = spike ? 0 : h
//   readout:      racc += acc over the T steps; after the last step logit = racc M
// The added integer forms (docs/integer-semantics.md, "Added forms"):
//   WFORM 1 (TTQ, sign_scales): two accumulators per unit, acc+ (inputs of +1 codes) and acc-
//                 (inputs of -1 codes); I = acc+ M - acc- Mn (the scale word holds M and Mn).
//   WFORM 2 (TaWQ, per_timestep): TS = T code sets and T scale sets; timestep t reads set t.
//   A readout of WFORM 1 or 2 accumulates I(t) itself (racc += I(t); logit = racc): the
//   multipliers differ per sign or per timestep, so they cannot be applied once after T steps.
//   NEURON 1 (Q-SNN): state j in [-L, L] (B bits); H = j MA + I; spike = H >= Theta; else
//                 j = -L + #{n : H >= B_n}, a bank of 2L comparators per unit against the
//                 threshold ROM (Theta, B_1 .. B_2L; NTHR = 2L + 1 words of TW bits).
//   NEURON 2 (MFP): reset-free V = (2^K - 1) V + 2^(K t) I (SB bits per neuron);
//                 spike = V >= Theta_t, the threshold ROM holding Theta_t per timestep.
// Spikes are written serially (lowest unit first) to the next layer's event list.
// The file also holds snn_wmul (weight x input code), snn_lif (LIF update), snn_qsnn (Q-SNN update)
// and snn_mfp (MFP integrator), shared with snn_conv.
// Memories: weight ROM (depth GROUPS x N_IN, width P x W), scale ROM (depth GROUPS, width
// P x MB), membrane / readout accumulator RAM (depth GROUPS, width P x B or P x RACC).
`default_nettype none

module snn_layer #(
    parameter integer N_IN = 64,       // fan-in (inputs)
    parameter integer N_OUT = 32,      // neurons
    parameter integer P = 4,           // parallel units
    parameter integer W = 4,           // weight bits
    parameter integer ENC = 0,         // stored code: 0 two's complement q; 1 odd levels j, q = 2j - (2^W - 1)
    parameter integer DENSE = 0,       // 1: dense input codes of A bits (layer 0); 0: spike events
    parameter integer A = 8,           // input code bits (signed), dense layer only
    parameter integer LUT_MULT = 1,    // dense layer: weight x input in LUTs (shift-add), else `*`
    parameter integer READOUT = 0,     // 1: non-spiking readout accumulating over T
    parameter integer B = 8,           // membrane bits (hidden layers)
    parameter integer ACC = 12,        // per-timestep accumulator bits
    parameter integer RACC = 16,       // readout accumulator bits over T steps
    parameter integer MB = 17,         // scale multiplier bits (unsigned M_i)
    parameter integer F = 10,          // fractional bits of M_i
    parameter integer K = 1,           // leak shift: tau = 2^K
    parameter WMEM = "w.mem",          // $readmemh file of the weight ROM
    parameter SMEM = "s.mem",          // $readmemh file of the scale ROM
    parameter WSTYLE = "block",        // rom_style of the weight ROM: "block", or "auto" (LUT logic)
    parameter SSTYLE = "auto",         // rom_style of the scale ROM
    parameter MSTYLE = "distributed",  // ram_style of the membrane RAM
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
    parameter integer GROUPS = (N_OUT + P - 1) / P,
    parameter integer TBW = (T > 1) ? $clog2(T) : 1,
    parameter integer NS = (WFORM == 1) ? 2 : 1,                      // multipliers per unit
    parameter integer PRODRO = (READOUT && WFORM != 0) ? 1 : 0,       // readout accumulates I(t)
    parameter integer SDEPTH = GROUPS * TS,
    parameter integer SAW = (SDEPTH > 1) ? $clog2(SDEPTH) : 1,
    parameter integer EW = (N_IN > 1) ? $clog2(N_IN + 1) : 1,         // event count bits
    parameter integer IAW = (N_IN > 1) ? $clog2(N_IN) : 1,            // input address bits
    parameter integer IDW = DENSE ? A : IAW,                          // input list data bits
    parameter integer OAW = (N_OUT > 1) ? $clog2(N_OUT) : 1,
    parameter integer NW = (GROUPS * P > 1) ? $clog2(GROUPS * P) : 1,  // neuron index incl. padding
    parameter integer WDEPTH = GROUPS * N_IN * TS,
    parameter integer WAW = (WDEPTH > 1) ? $clog2(WDEPTH) : 1,
    parameter integer GW = (GROUPS > 1) ? $clog2(GROUPS) : 1,
    parameter integer SW = READOUT ? RACC : ((NEURON == 2) ? SB : B), // state bits per unit
    parameter integer LW = RACC + MB + 1                              // readout logit bits
) (
    input wire clk,
    input wire rst,
    input wire start,                    // pulse: run one timestep
    input wire first_step,               // t == 0: stored states read as 0
    input wire last_step,                // t == T-1: the readout emits its results
    input wire [TBW-1:0] tstep,          // t (TaWQ sets, MFP shift and threshold)
    input wire [EW-1:0] in_count,        // events in the list (dense: ignored, N_IN)
    output wire [IAW-1:0] in_raddr,      // event list / input code read address
    input wire [IDW-1:0] in_rdata,       // registered read data, one cycle after in_raddr
    output reg out_we,                   // one output spike
    output reg [OAW-1:0] out_idx,
    output reg res_valid,                // readout: P results of group res_group
    output reg [GW-1:0] res_group,
    output reg [P*RACC-1:0] res_sum,
    output reg [P*LW-1:0] res_logit,
    output reg done                      // pulse: timestep finished
);
    // ---------------- memories ----------------
    (* rom_style = WSTYLE, ram_style = WSTYLE *) reg [P*W-1:0] wrom [0:WDEPTH-1];
    (* rom_style = SSTYLE, ram_style = SSTYLE *) reg [NS*P*MB-1:0] srom [0:SDEPTH-1];
    (* ram_style = MSTYLE *) reg [P*SW-1:0] sram [0:GROUPS-1];
    integer init_i;
    initial begin
        $readmemh(WMEM, wrom);
        $readmemh(SMEM, srom);
        for (init_i = 0; init_i < GROUPS; init_i = init_i + 1) sram[init_i] = {P*SW{1'b0}};
    end

    reg [WAW-1:0] w_raddr;
    reg [P*W-1:0] w_rdata;
    always @(posedge clk) w_rdata <= wrom[w_raddr];

    reg [GW-1:0] s_raddr;
    reg [SAW-1:0] sc_raddr;
    reg [NS*P*MB-1:0] s_rdata;
    reg [P*SW-1:0] m_rdata;
    reg m_we;
    reg [P*SW-1:0] m_wdata;
    always @(posedge clk) begin
        s_rdata <= srom[sc_raddr];
        m_rdata <= sram[s_raddr];
        if (m_we) sram[s_raddr] <= m_wdata;
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

    // ---------------- control ----------------
    localparam [2:0] S_IDLE = 3'd0, S_ACC = 3'd1, S_DRAIN = 3'd2, S_RD = 3'd3,
                     S_MUL = 3'd4, S_UPD = 3'd5, S_EMIT = 3'd6;
    reg [2:0] state;
    reg [GW-1:0] g;
    reg [WAW-1:0] wbase;        // (t_set * GROUPS + g) * N_IN
    reg [SAW-1:0] sbase;        // t_set * GROUPS
    reg [EW-1:0] e;             // next event to issue
    reg [EW-1:0] count;
    reg v1, v2, v3;             // pipeline valid: list data, weight address, weight data
    reg [1:0] drain;            // S_DRAIN cycles so far: a fixed 3, so a group's cycles are linear in its events
    reg signed [A-1:0] x1, x2;  // dense: input code aligned with the stages
    reg [P-1:0] mask;
    reg [NW-1:0] gbase;         // g * P (first neuron of the group)
    reg [EW-1:0] e_prev;        // dense: address of the code now on in_rdata

    assign in_raddr = e[IAW-1:0];
    wire [IAW-1:0] j_in;        // input index of the event on in_rdata
    generate
        if (DENSE) begin : jd
            assign j_in = e_prev[IAW-1:0];
        end else begin : js
            assign j_in = in_rdata[IAW-1:0];
        end
    endgenerate

    // ---------------- P units ----------------
    reg signed [ACC-1:0] acc [0:P-1];
    reg signed [ACC-1:0] accn [0:P-1];  // TTQ: inputs of -1 codes
    reg signed [ACC+MB:0] prod [0:P-1];
    reg signed [SW-1:0] m_cur [0:P-1];
    wire [P-1:0] spike;
    wire [P*SW-1:0] m_next;
    wire [P*RACC-1:0] racc_next;

    genvar u;
    generate
        for (u = 0; u < P; u = u + 1) begin : unit
            // weight code of this unit
            wire [W-1:0] wbits = w_rdata[u*W +: W];
            wire signed [W+1:0] odd = {1'b0, wbits, 1'b0} - ((1 << W) - 1);
            wire signed [W:0] wval = ENC ? odd[W:0] : {wbits[W-1], wbits};
            wire signed [ACC-1:0] term;
            if (DENSE) begin : mac
                wire signed [W+A:0] p_full;
                snn_wmul #(.W(W), .ENC(ENC), .A(A), .LUT_MULT(LUT_MULT)) mul (
                    .wbits(wbits), .wval(wval), .x(x2), .p(p_full));
                assign term = p_full;
            end else begin : ac
                assign term = wval;
            end

            wire [MB-1:0] mval = s_rdata[u*MB +: MB];
            wire signed [SW-1:0] mst = first_step ? {SW{1'b0}} : m_rdata[u*SW +: SW];
            if (WFORM == 1) begin : ttq
                // acc+ sums the inputs of +1 codes, acc- those of -1 codes (term = q x)
                always @(posedge clk) begin
                    if (state == S_IDLE || state == S_EMIT) begin
                        acc[u] <= 0;
                        accn[u] <= 0;
                    end else if (v3) begin
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
                    if (state == S_IDLE || state == S_EMIT) acc[u] <= 0;
                    else if (v3) acc[u] <= acc[u] + term;
                end
                always @(posedge clk) if (state == S_MUL) begin
                    if (READOUT && !PRODRO) prod[u] <= 0;
                    else prod[u] <= acc[u] * $signed({1'b0, mval});
                    m_cur[u] <= mst;
                end
            end

            if (READOUT && PRODRO) begin : rop
                // racc += I(t); the logit is racc itself
                wire signed [RACC-1:0] sum = m_cur[u] + prod[u];
                assign racc_next[u*RACC +: RACC] = sum;
                assign m_next[u*SW +: SW] = sum;
                assign spike[u] = 1'b0;
            end else if (READOUT) begin : ro
                wire signed [RACC-1:0] sum = m_cur[u] + acc[u];
                assign racc_next[u*RACC +: RACC] = sum;
                assign m_next[u*SW +: SW] = sum;
                assign spike[u] = 1'b0;
            end else if (NEURON == 1) begin : qsnn
                wire valid_unit = ({1'b0, gbase} + u) < N_OUT;
                snn_qsnn #(.B(B), .ACC(ACC), .MB(MB), .MA(MA), .TW(TW), .NTHR(NTHR)) neuron (
                    .j(m_cur[u]), .prod(prod[u]), .thr(thr_flat), .valid(valid_unit), .spike(spike[u]),
                    .j_next(m_next[u*SW +: SW]));
                assign racc_next[u*RACC +: RACC] = {RACC{1'b0}};
            end else if (NEURON == 2) begin : mfp  // SW = SB
                wire valid_unit = ({1'b0, gbase} + u) < N_OUT;
                snn_mfp #(.SB(SB), .ACC(ACC), .MB(MB), .K(K), .T(T), .TW(TW), .NTHR(NTHR), .TBW(TBW)) neuron (
                    .v(m_cur[u]), .prod(prod[u]), .tstep(tstep), .thr(thr_flat), .valid(valid_unit), .spike(spike[u]),
                    .v_next(m_next[u*SW +: SW]));
                assign racc_next[u*RACC +: RACC] = {RACC{1'b0}};
            end else begin : lif  // SW = B
                wire valid_unit = ({1'b0, gbase} + u) < N_OUT;
                snn_lif #(.B(B), .ACC(ACC), .MB(MB), .F(F), .K(K)) neuron (
                    .m(m_cur[u]), .prod(prod[u]), .valid(valid_unit), .spike(spike[u]), .m_next(m_next[u*SW +: SW]));
                assign racc_next[u*RACC +: RACC] = {RACC{1'b0}};
            end
        end
    endgenerate

    // lowest set bit of the spike mask
    reg [NW-1:0] low_idx;
    integer li;
    always @* begin
        low_idx = 0;
        for (li = P - 1; li >= 0; li = li - 1)
            if (mask[li]) low_idx = li;
    end

    integer pi;
    always @(posedge clk) begin
        done <= 1'b0;
        out_we <= 1'b0;
        res_valid <= 1'b0;
        m_we <= 1'b0;
        if (rst) begin
            state <= S_IDLE;
            v1 <= 1'b0;
            v2 <= 1'b0;
            v3 <= 1'b0;
        end else begin
            // accumulate pipeline: list read -> weight read -> accumulate
            v1 <= (state == S_ACC) && (e < count);
            v2 <= v1;
            v3 <= v2;
            e_prev <= e;
            x2 <= x1;
            if (v1) begin
                w_raddr <= wbase + j_in;
                x1 <= in_rdata;
            end
            case (state)
                S_IDLE: if (start) begin
                    g <= 0;
                    gbase <= 0;
                    wbase <= (TS > 1) ? tstep * (GROUPS * N_IN) : 0;
                    sbase <= (TS > 1) ? tstep * GROUPS : 0;
                    e <= 0;
                    count <= DENSE ? N_IN : in_count;
                    state <= S_ACC;
                end
                S_ACC: begin
                    drain <= 2'd0;
                    if (e < count) e <= e + 1;
                    else state <= S_DRAIN;
                end
                S_DRAIN: if (drain == 2'd2) begin  // 3 cycles: the last event's weight read and accumulate
                    s_raddr <= g;
                    sc_raddr <= sbase + g;
                    state <= S_RD;
                end else drain <= drain + 2'd1;
                S_RD: state <= S_MUL;     // scale ROM and state RAM read
                S_MUL: state <= S_UPD;    // product register
                S_UPD: begin
                    m_we <= 1'b1;
                    m_wdata <= READOUT ? racc_next : m_next;
                    mask <= spike;
                    if (READOUT && last_step) begin
                        res_valid <= 1'b1;
                        res_group <= g;
                        res_sum <= racc_next;
                        for (pi = 0; pi < P; pi = pi + 1)
                            res_logit[pi*LW +: LW] <= PRODRO ? $signed(racc_next[pi*RACC +: RACC])
                                                      : $signed(racc_next[pi*RACC +: RACC])
                                                        * $signed({1'b0, s_rdata[pi*MB +: MB]});
                    end
                    state <= S_EMIT;
                end
                S_EMIT: begin
                    if (mask != 0) begin
                        out_we <= 1'b1;
                        out_idx <= gbase + low_idx;  // < N_OUT: padding units never spike
                        mask <= mask & (mask - 1);
                    end else if (g == GROUPS - 1) begin
                        done <= 1'b1;
                        state <= S_IDLE;
                    end else begin
                        g <= g + 1;
                        gbase <= gbase + P;
                        wbase <= wbase + N_IN;
                        e <= 0;
                        state <= S_ACC;
                    end
                end
                default: state <= S_IDLE;
            endcase
        end
    end

endmodule

// ---------------- shared by snn_layer and snn_conv (snn_conv.v needs this file) ----------------

// weight x input code of one unit: p = q x, where q = wval is the decoded code of wbits (ENC 0:
// two's complement; ENC 1: odd levels j, q = 2j - (2^W - 1)). LUT_MULT: shift-add in LUTs (kept
// out of DSPs), the sum of W partial products; else `*`.
module snn_wmul #(
    parameter integer W = 4,
    parameter integer ENC = 0,
    parameter integer A = 8,
    parameter integer LUT_MULT = 1
) (
    input wire [W-1:0] wbits,
    input wire signed [W:0] wval,
    input wire signed [A-1:0] x,
    output wire signed [W+A:0] p
);
    generate
        if (LUT_MULT) begin : lutmul
            integer bi;
            reg signed [W+A:0] sacc;
            always @* begin
                sacc = 0;
                if (ENC) begin  // q x = 2 j x - (2^W - 1) x
                    for (bi = 0; bi < W; bi = bi + 1)
                        if (wbits[bi]) sacc = sacc + (x <<< (bi + 1));
                    sacc = sacc - ((x <<< W) - x);
                end else begin  // two's complement: the top bit weighs -2^(W-1)
                    for (bi = 0; bi < W - 1; bi = bi + 1)
                        if (wbits[bi]) sacc = sacc + (x <<< bi);
                    if (wbits[W-1]) sacc = sacc - (x <<< (W - 1));
                end
            end
            assign p = sacc;
        end else begin : dspmul
            assign p = wval * x;
        end
    endgenerate
endmodule

// LIF update of one unit (combinational; m and prod are registers of the layer):
//   H = m (2^K - 1) 2^F + prod;  h = round_half_even(H / 2^(F+K));  h = clamp(h, B bits);
//   spike = valid && h >= 2^(B-2);  m_next = spike ? 0 : h
module snn_lif #(
    parameter integer B = 8,           // membrane bits
    parameter integer ACC = 12,        // per-timestep accumulator bits
    parameter integer MB = 17,         // scale multiplier bits
    parameter integer F = 10,          // fractional bits of M
    parameter integer K = 1            // leak shift: tau = 2^K
) (
    input wire signed [B-1:0] m,       // stored membrane
    input wire signed [ACC+MB:0] prod, // acc x M
    input wire valid,                  // a real neuron (not padding of the last group)
    output wire spike,
    output wire [B-1:0] m_next
);
    localparam integer S = F + K;
    localparam integer HW = ((B + K + F > ACC + MB + 1) ? B + K + F : ACC + MB + 1) + 2;
    wire signed [HW-1:0] mterm = (($signed(m) <<< K) - m) <<< F;
    wire signed [HW-1:0] H = mterm + prod;
    wire signed [HW-1:0] h;
    generate
        if (S > 0) begin : rnd
            wire signed [HW-1:0] q = H >>> S;
            wire [S-1:0] r = H[S-1:0];
            wire [S-1:0] half = {1'b1, {(S-1){1'b0}}};
            wire up = (r > half) || ((r == half) && q[0]);
            assign h = q + up;
        end else begin : nornd
            assign h = H;
        end
    endgenerate
    localparam signed [HW-1:0] HI = (1 <<< (B - 1)) - 1;
    localparam signed [HW-1:0] LO = -(1 <<< (B - 1));
    localparam signed [HW-1:0] THR = 1 <<< (B - 2);
    wire signed [B-1:0] hc = (h > HI) ? HI[B-1:0] : (h < LO) ? LO[B-1:0] : h[B-1:0];
    assign spike = valid && (h >= THR);
    assign m_next = spike ? {B{1'b0}} : hc;
endmodule

// Q-SNN update of one unit (combinational; j and prod are registers of the layer):
//   H = j Ma + prod;  spike = valid && H >= Theta;  j_next = spike ? 0 : -L + #{n : H >= B_n}
// with L = 2^(B-1) - 1 and thr the threshold ROM read in parallel (Theta, B_1 .. B_2L; TW-bit words):
// a bank of 2L comparators. j x Ma is a shift-add in LUTs for B <= 4, else `*` (a DSP).
module snn_qsnn #(
    parameter integer B = 8,           // level state bits: j in [-L, L]
    parameter integer ACC = 12,        // per-timestep accumulator bits
    parameter integer MB = 17,         // scale multiplier bits
    parameter integer MA = 0,          // leak multiplier Ma (unsigned, < 2^MB)
    parameter integer TW = 8,          // threshold word bits (H bits + 1)
    parameter integer NTHR = 1         // threshold words: 2L + 1
) (
    input wire signed [B-1:0] j,       // stored level
    input wire signed [ACC+MB:0] prod, // I: acc x M (TTQ: acc+ M - acc- Mn)
    input wire [NTHR*TW-1:0] thr,      // Theta, B_1 .. B_2L
    input wire valid,                  // a real neuron (not padding of the last group)
    output wire spike,
    output wire [B-1:0] j_next
);
    localparam integer HW = ((B > ACC) ? B : ACC) + MB + 1;  // |j Ma| + |I| < 2^(HW-1)
    localparam integer L = (1 << (B - 1)) - 1;
    localparam [MB-1:0] MAU = MA;
    wire signed [HW-1:0] jterm;
    generate
        if (B <= 4) begin : lutma  // shift-add (the cost model's LUT multiplier rule)
            integer mi;
            reg signed [HW-1:0] ja;
            always @* begin
                ja = 0;
                for (mi = 0; mi < MB; mi = mi + 1)
                    if (MAU[mi]) ja = ja + ($signed({{(HW-B){j[B-1]}}, j}) <<< mi);
            end
            assign jterm = ja;
        end else begin : dspma
            assign jterm = j * $signed({1'b0, MAU});
        end
    endgenerate
    wire signed [HW-1:0] H = jterm + prod;
    wire signed [TW-1:0] HX = H;
    assign spike = valid && (HX >= $signed(thr[0 +: TW]));
    integer ci;
    reg [B-1:0] above;  // #{n : H >= B_n}, 0 .. 2L
    always @* begin
        above = 0;
        for (ci = 1; ci <= 2 * L; ci = ci + 1)
            if (HX >= $signed(thr[ci*TW +: TW])) above = above + 1'b1;
    end
    wire signed [B:0] lv = $signed({1'b0, above}) - L;
    assign j_next = spike ? {B{1'b0}} : lv[B-1:0];
endmodule

// MFP update of one unit (combinational; v and prod are registers of the layer): the reset-free
// integrator V = (2^K - 1) v + 2^(K t) prod (no rounding, SB bits hold it for T steps);
// spike = valid && V >= Theta_t, thr the threshold ROM read in parallel (Theta_0 .. Theta_{T-1}).
module snn_mfp #(
    parameter integer SB = 8,          // integrator state bits
    parameter integer ACC = 12,        // per-timestep accumulator bits
    parameter integer MB = 17,         // scale multiplier bits
    parameter integer K = 1,           // leak shift: tau = 2^K
    parameter integer T = 1,           // timesteps
    parameter integer TW = 9,          // threshold word bits (SB + 1)
    parameter integer NTHR = 1,        // threshold words: T
    parameter integer TBW = 1          // bits of tstep
) (
    input wire signed [SB-1:0] v,      // stored V_{t-1}
    input wire signed [ACC+MB:0] prod, // I(t)
    input wire [TBW-1:0] tstep,        // t
    input wire [NTHR*TW-1:0] thr,      // Theta_t per timestep
    input wire valid,
    output wire spike,
    output wire [SB-1:0] v_next
);
    localparam integer IW = ACC + MB + 1 + K * (T - 1);  // 2^(K t) I
    localparam integer VW = ((SB > IW) ? SB : IW) + K + 2;
    wire signed [VW-1:0] vprev = v;
    wire signed [VW-1:0] ishift = $signed(prod) <<< (K * tstep);
    wire signed [VW-1:0] V = ((vprev <<< K) - vprev) + ishift;
    wire signed [TW-1:0] thr_t = thr[tstep*TW +: TW];
    assign spike = valid && ($signed(V[TW-1:0]) >= thr_t);  // |V| < 2^(SB-1), TW = SB + 1
    assign v_next = V[SB-1:0];
endmodule

`default_nettype wire
