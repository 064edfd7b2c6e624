// Verilator harness for a generated engine_* top level: runs a whole engine program with no
// Python in the per-cycle path (the fast path of sim/backends/verilator_engine.py).
//
//   Vengine --program PROG --out RESULT [--seed S] [--p-valid P] [--p-ready Q]
//           [--max-cycles N]
//
// PROG (text, written by sim/backends/verilator_engine.py):
//   cmds <n>        then n lines, one 128-bit command word each, in hex
//   din <n>         then n lines, one data-in beat each, in hex
//   dout_rows <n>   the data-out rows the program stores
//
// The bench mirrors sim/benches/engine_tb.py (cocotb with cocotbext-axi):
// * reset: the engine's rst high for 4 cycles, then 2 idle cycles. The top level is the
//   backend's wrapper, which registers rst once (starting at 1) on its way to the engine, so
//   the bench holds its rst RESET_DELAY cycles less for the engine to see the same 4;
// * sources: each command and each data-in beat is a one-beat frame (tlast=1 on data-in); a
//   source holds a beat until it is taken, and offers the next one on a cycle only when its
//   stall pattern goes (probability --p-valid, drawn every cycle);
// * sink: m_axis_data_tready is high on a cycle with probability --p-ready;
// * cycles: from the first cycle a command is offered to the cycle the last expected row is
//   taken, both counted (the cocotb bench's "first command offered to last row taken");
// * settle: SETTLE_CYCLES more cycles taking data-out (rows there count as "extra"), then
//   status_idle and status_error are sampled.
// The three stall patterns come from splitmix64 generators seeded with seed*3+k (k = 0 for
// commands, 1 for data-in, 2 for data-out).
//
// RESULT (text): "cycles N", "idle N", "error N", "extra N", "timeout 0|1", "progress ...",
// "frames n f1 .. fn", "rows n", then n lines of data-out rows in hex.
//
// Exit status: 0 done (whatever the engine did), 2 timeout, 1 bad arguments or files.

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

namespace {

const int RESET_CYCLES = 4;
const int RESET_DELAY = 1;  // the wrapper's register on rst
const int IDLE_CYCLES = 2;
const int SETTLE_CYCLES = 8;  // sim.backends.engine_run.SETTLE_CYCLES

// 32-bit words of a Verilated port: C/S/I/QData are integers, wider ports VlWide<N>.
template <typename T> constexpr int words_of(const T&) { return (sizeof(T) + 3) / 4; }
template <std::size_t N> constexpr int words_of(const VlWide<N>&) { return N; }

template <typename T> void put(T& sig, const uint32_t* w) {
    uint64_t v = w[0];
    if (sizeof(T) > 4) v |= uint64_t(w[1]) << 32;
    sig = static_cast<T>(v);
}
template <std::size_t N> void put(VlWide<N>& sig, const uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) sig[i] = w[i];
}

template <typename T> void get(const T& sig, uint32_t* w) {
    uint64_t v = sig;
    w[0] = uint32_t(v);
    if (sizeof(T) > 4) w[1] = uint32_t(v >> 32);
}
template <std::size_t N> void get(const VlWide<N>& sig, uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) w[i] = sig[i];
}

struct SplitMix {
    uint64_t s;
    explicit SplitMix(uint64_t seed) : s(seed) {}
    double next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        return double(z >> 11) * (1.0 / 9007199254740992.0);
    }
};

[[noreturn]] void fail(const std::string& msg) {
    std::fprintf(stderr, "engine harness: %s\n", msg.c_str());
    std::exit(1);
}

// Parse one hex line into `words` little-endian 32-bit words (zero-extended).
void parse_hex(const char* s, int words, uint32_t* out) {
    std::memset(out, 0, sizeof(uint32_t) * words);
    std::size_t n = std::strcspn(s, "\r\n ");
    int bit = 0;
    for (std::size_t i = n; i-- > 0; bit += 4) {
        char c = s[i];
        uint32_t d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else fail(std::string("not a hex digit in the program: ") + s);
        if (d && bit / 32 >= words) fail(std::string("word wider than its port: ") + s);
        if (bit / 32 < words) out[bit / 32] |= d << (bit % 32);
    }
}

void read_section(FILE* f, const char* name, int words, std::vector<uint32_t>& out,
                  std::size_t& count) {
    char tag[64];
    if (std::fscanf(f, "%63s %zu", tag, &count) != 2 || std::strcmp(tag, name) != 0)
        fail(std::string("program: expected section ") + name);
    out.assign(count * words, 0);
    std::vector<char> line(4096);
    std::fgets(line.data(), line.size(), f);  // the rest of the header line
    for (std::size_t i = 0; i < count; ++i) {
        if (!std::fgets(line.data(), line.size(), f))
            fail(std::string("program: section ") + name + " ends early");
        parse_hex(line.data(), words, &out[i * words]);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const char* program = nullptr;
    const char* outpath = nullptr;
    uint64_t seed = 0;
    double p_valid = 1.0, p_ready = 1.0;
    uint64_t max_cycles = UINT64_MAX;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("+verilator", 0) == 0) continue;
        if (i + 1 >= argc) fail("option " + a + " needs a value");
        const char* v = argv[++i];
        if (a == "--program") program = v;
        else if (a == "--out") outpath = v;
        else if (a == "--seed") seed = std::strtoull(v, nullptr, 0);
        else if (a == "--p-valid") p_valid = std::atof(v);
        else if (a == "--p-ready") p_ready = std::atof(v);
        else if (a == "--max-cycles") max_cycles = std::strtoull(v, nullptr, 0);
        else fail("unknown option " + a);
    }
    if (!program || !outpath) fail("--program and --out are required");
    if (!(p_valid > 0 && p_valid <= 1) || !(p_ready > 0 && p_ready <= 1))
        fail("--p-valid and --p-ready must be probabilities in (0, 1]");

    VerilatedContext ctx;
    Vtop top{&ctx};
    const int cmd_w = words_of(top.s_axis_cmd_tdata);
    const int din_w = words_of(top.s_axis_data_tdata);
    const int dout_w = words_of(top.m_axis_data_tdata);

    std::vector<uint32_t> cmds, din;
    std::size_t n_cmds = 0, n_din = 0, dout_rows = 0;
    {
        FILE* f = std::fopen(program, "r");
        if (!f) fail(std::string("cannot read ") + program);
        read_section(f, "cmds", cmd_w, cmds, n_cmds);
        read_section(f, "din", din_w, din, n_din);
        char tag[64];
        if (std::fscanf(f, "%63s %zu", tag, &dout_rows) != 2 ||
            std::strcmp(tag, "dout_rows") != 0)
            fail("program: expected dout_rows");
        std::fclose(f);
    }

    SplitMix cmd_rng(seed * 3 + 0), din_rng(seed * 3 + 1), dout_rng(seed * 3 + 2);

    auto cycle = [&top]() {
        top.clk = 0;
        top.eval();
        top.clk = 1;
        top.eval();
    };
    top.s_axis_cmd_tvalid = 0;
    top.s_axis_data_tvalid = 0;
    top.s_axis_data_tlast = 0;
    top.m_axis_data_tready = 0;
    top.rst = 1;
    for (int i = 0; i < RESET_CYCLES - RESET_DELAY; ++i) cycle();
    top.rst = 0;
    for (int i = 0; i < IDLE_CYCLES; ++i) cycle();

    std::vector<uint32_t> rows;
    rows.reserve(dout_rows * dout_w);
    std::vector<uint32_t> row(dout_w);
    std::vector<std::size_t> frames;
    std::size_t frame_rows = 0, n_rows = 0, extra = 0;
    std::size_t ci = 0, di = 0;
    bool cv = false, dv = false;
    uint64_t n = 0, first = 0, last = 0;
    bool started = false, done = false, timeout = false;
    int settle = 0;
    for (;; ++n) {
        if (!done && n >= max_cycles) {
            timeout = true;
            break;
        }
        // A source holds its beat until taken; it offers the next when its pattern goes.
        bool cmd_go = cmd_rng.next() < p_valid;
        bool din_go = din_rng.next() < p_valid;
        bool ready = dout_rng.next() < p_ready;
        if (!cv && ci < n_cmds && cmd_go) {
            put(top.s_axis_cmd_tdata, &cmds[ci * cmd_w]);
            cv = true;
        }
        if (!dv && di < n_din && din_go) {
            put(top.s_axis_data_tdata, &din[di * din_w]);
            dv = true;
        }
        top.s_axis_cmd_tvalid = cv;
        top.s_axis_data_tvalid = dv;
        top.s_axis_data_tlast = dv;
        top.m_axis_data_tready = ready;
        if (cv && !started) {
            started = true;
            first = n;
        }
        top.clk = 0;
        top.eval();
        bool cmd_fire = cv && top.s_axis_cmd_tready;
        bool din_fire = dv && top.s_axis_data_tready;
        if (ready && top.m_axis_data_tvalid) {
            if (n_rows < dout_rows) {
                get(top.m_axis_data_tdata, row.data());
                rows.insert(rows.end(), row.begin(), row.end());
                ++n_rows;
                ++frame_rows;
                if (top.m_axis_data_tlast) {
                    frames.push_back(frame_rows);
                    frame_rows = 0;
                }
                if (n_rows == dout_rows) {
                    done = true;
                    last = n;
                }
            } else {
                ++extra;
            }
        }
        top.clk = 1;
        top.eval();
        if (cmd_fire) {
            cv = false;
            ++ci;
        }
        if (din_fire) {
            dv = false;
            ++di;
        }
        if (done && last != n && ++settle == SETTLE_CYCLES) break;
    }
    top.final();

    FILE* o = std::fopen(outpath, "w");
    if (!o) fail(std::string("cannot write ") + outpath);
    std::fprintf(o, "cycles %" PRIu64 "\n", done ? last + 1 - first : 0);
    std::fprintf(o, "idle %u\nerror %u\nextra %zu\ntimeout %d\n", unsigned(top.status_idle),
                 unsigned(top.status_error), extra, timeout ? 1 : 0);
    std::fprintf(o, "progress %zu of %zu commands and %zu of %zu data beats taken, %zu of %zu "
                 "data-out rows after %" PRIu64 " cycles\n", ci, n_cmds, di, n_din, n_rows,
                 dout_rows, n);
    std::fprintf(o, "frames %zu", frames.size());
    for (std::size_t f : frames) std::fprintf(o, " %zu", f);
    std::fprintf(o, "\nrows %zu\n", n_rows);
    for (std::size_t r = 0; r < n_rows; ++r) {
        for (int w = dout_w; w-- > 0;) std::fprintf(o, "%08x", rows[r * dout_w + w]);
        std::fputc('\n', o);
    }
    std::fclose(o);
    return timeout ? 2 : 0;
}
