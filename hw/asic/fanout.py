"""Fanout buffering of a mapped, hierarchical netlist: what ABC cannot see.

ABC buffers and sizes the combinational logic Yosys hands it, but a net whose loads are
flip-flops (a register's enable, a multiplexer's select across a wide register) or
instances of other modules (the array's stall enable, into every tile and PE) leaves ABC as
one output with one assumed load. Unbuffered, one small gate then drives hundreds of pins
and the worst path says nothing about the logic (issue 10: 42 ns of a 63.5 ns path in one
``and2_0``). Real flows fix this after synthesis (OpenROAD's ``repair_design``); this module
does the same job, simply, on Yosys's JSON netlist.

Every net whose load exceeds ``max_fanout`` gets a tree of buffers, each driving at most
``max_fanout`` loads. A load is a cell's input pin (1) or a port of an instance of another
module of the design, which counts as the load its net has inside that module after that
module was buffered: modules are done bottom-up, so a net into 256 PEs sees each PE's
handful of pins, not one pin per PE. Clock nets (those reaching a ``CLK``/``clk`` pin,
including the gated clocks out of clock-gating cells) are left alone: timing takes the clock
as ideal. A clock-gating cell's enable (SKY130's ``GATE``, a latch's clock pin by name) is
data, buffered like any other net.
"""

from collections import defaultdict

__all__ = ["CLOCK_PINS", "buffer_fanout"]

#: Pin names that take a clock (SKY130 flip-flops and latches, the RAM modules and macros).
CLOCK_PINS = frozenset({"CLK", "CLK_N", "GATE", "GATE_N", "clk", "clk0", "clk1"})


def _order(modules):
    """Module names, each after every module it instantiates."""
    done, order = set(), []

    def visit(name, path=()):
        if name in done or name in path:
            return
        for cell in modules[name]["cells"].values():
            if cell["type"] in modules:
                visit(cell["type"], path + (name,))
        done.add(name)
        order.append(name)
    for name in sorted(modules):
        visit(name)
    return order


def buffer_fanout(netlist, buffer, max_fanout=10, data_pins=frozenset()):
    """Add buffer trees to ``netlist`` (Yosys ``write_json`` output, a dict, changed in
    place) so that no net drives more than ``max_fanout`` loads.

    Parameters
    ----------
    netlist : dict
        The mapped design, every module kept (``modules``).
    buffer : tuple
        ``(cell type, input pin, output pin)`` of the buffer to use.
    max_fanout : int
        The most loads a net may drive.
    data_pins : set of tuple
        ``(cell type, pin)`` pins that are data although their name is in
        :data:`CLOCK_PINS` (:func:`hw.asic.liberty.clock_gate_enables`).

    Returns
    -------
    dict
        ``{module: buffers added}`` (modules with none left out).
    """
    if max_fanout < 2:
        raise ValueError(f"max_fanout must be at least 2, not {max_fanout!r}")
    modules = netlist["modules"]
    cell_type, pin_in, pin_out = buffer
    next_bit = 1 + max((b for m in modules.values() for net in m.get("netnames", {}).values()
                        for b in net["bits"] if isinstance(b, int)), default=1)
    port_load = {}      # module -> {(port, index): load of that input bit inside}
    clock_ports = {}    # module -> {(port, index)} input bits that reach a clock pin
    added = {}
    for name in _order(modules):
        module = modules[name]
        if module.get("attributes", {}).get("blackbox"):
            continue
        sinks = defaultdict(list)   # bit -> [(cell, pin, index, weight)]
        clock_bits = set()
        for cname, cell in module["cells"].items():
            sub = cell["type"]
            dirs = cell.get("port_directions")
            if not dirs and sub not in port_load:
                # Without them a gate's output would count as one of its net's loads and
                # could be moved onto a buffer's output, cutting the net from its driver.
                raise ValueError(f"cell {cname} ({sub}) of module {name} has no port "
                                 "directions: read the library (read_liberty -lib) before "
                                 "write_json")
            dirs = dirs or {}
            for pin, bits in cell["connections"].items():
                if dirs.get(pin, "input") != "input":
                    continue
                for i, bit in enumerate(bits):
                    if not isinstance(bit, int):
                        continue
                    if sub in port_load:
                        weight = port_load[sub].get((pin, i), 0)
                        if (pin, i) in clock_ports[sub]:
                            clock_bits.add(bit)
                    else:
                        weight = 1
                        if pin in CLOCK_PINS and (sub, pin) not in data_pins:
                            clock_bits.add(bit)
                    if weight:
                        sinks[bit].append((cname, pin, i, weight))
        count = 0
        for bit, loads in sinks.items():
            if bit in clock_bits or sum(w for *_, w in loads) <= max_fanout:
                continue
            level = loads
            while sum(w for *_, w in level) > max_fanout:
                groups, group, weight = [], [], 0
                for load in level:
                    if group and weight + load[3] > max_fanout:
                        groups.append(group)
                        group, weight = [], 0
                    group.append(load)
                    weight += load[3]
                groups.append(group)
                level = []
                for group in groups:
                    out = next_bit
                    next_bit += 1
                    count += 1
                    bname = f"$fanout${count}"
                    module["cells"][bname] = {
                        "hide_name": 1, "type": cell_type, "parameters": {},
                        "attributes": {}, "port_directions": {pin_in: "input",
                                                              pin_out: "output"},
                        "connections": {pin_in: [bit], pin_out: [out]},
                    }
                    module["netnames"][f"$fanout${count}$net"] = {"hide_name": 1,
                                                                  "bits": [out],
                                                                  "attributes": {}}
                    for cname, pin, i, _ in group:
                        module["cells"][cname]["connections"][pin][i] = out
                    level.append((bname, pin_in, 0, 1))
            sinks[bit] = level
        if count:
            added[name] = count
        loads, clocks = {}, set()
        for pname, port in module["ports"].items():
            if port["direction"] != "input":
                continue
            for i, bit in enumerate(port["bits"]):
                if isinstance(bit, int):
                    loads[(pname, i)] = sum(w for *_, w in sinks.get(bit, ()))
                    if bit in clock_bits:
                        clocks.add((pname, i))
        port_load[name] = loads
        clock_ports[name] = clocks
    return added
