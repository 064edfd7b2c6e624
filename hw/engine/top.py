"""The Verilog top level: the engine with its streams named in AXI4-Stream style.

``s_axis_cmd_{tdata,tvalid,tready}`` (128-bit commands), ``s_axis_data_{tdata,tvalid,tready,
tlast}`` (data in; ``tlast`` is ignored), ``m_axis_data_{tdata,tvalid,tready,tlast}`` (data
out; ``tlast`` ends each STORE), ``status_idle``, ``status_error``; ``clk`` and ``rst``
(synchronous, active high). Flat names, so the Verilog keeps them and off-the-shelf
verification IP (cocotbext-axi's ``AxiStreamBus.from_prefix``) finds them.
"""

from amaranth import Module, Shape
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .engine import Engine, engine_signature

__all__ = ["AxiEngine", "AXI_STREAMS"]

#: Each AXI4-Stream port: its prefix, the engine stream it carries, and the payload field
#: behind each AXI signal (``None``: the whole payload).
AXI_STREAMS = (
    ("s_axis_cmd", "cmd", {"tdata": None}),
    ("s_axis_data", "din", {"tdata": "data", "tlast": "last"}),
    ("m_axis_data", "dout", {"tdata": "data", "tlast": "last"}),
)


def _payload_shape(stream_member, field):
    shape = stream_member.signature.members["payload"].shape
    return Shape.cast(shape if field is None else shape[field].shape)


class AxiEngine(wiring.Component):
    """:class:`~hw.engine.engine.Engine` with AXI4-Stream port names (the module docstring).

    Parameters
    ----------
    cfg : hw.config.Config
    pe_module : str or None
        As for :class:`~hw.engine.engine.Engine`.
    modules : hw.export.ModuleSet or None
        As for :class:`~hw.engine.engine.Engine`.
    """

    def __init__(self, cfg, *, pe_module=None, modules=None):
        self._engine = Engine(cfg, pe_module=pe_module, modules=modules)
        super().__init__(self.signature_for(cfg))

    @staticmethod
    def signature_for(cfg):
        """The top level's signature (for manifests, without building the engine)."""
        engine = engine_signature(cfg).members
        members = {}
        for prefix, name, fields in AXI_STREAMS:
            stream = engine[name]
            # The engine's flow for the stream's payload and valid; ready goes the other way.
            ahead, back = (In, Out) if stream.flow == In else (Out, In)
            members[f"{prefix}_tdata"] = ahead(_payload_shape(stream, fields["tdata"]))
            members[f"{prefix}_tvalid"] = ahead(1)
            members[f"{prefix}_tready"] = back(1)
            for axi, field in fields.items():
                members.setdefault(f"{prefix}_{axi}", ahead(_payload_shape(stream, field)))
        for name, member in engine["status"].signature.members.items():
            members[f"status_{name}"] = Out(Shape.cast(member.shape).width)
        return wiring.Signature(members)

    @property
    def engine(self):
        return self._engine

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = engine = self._engine
        for prefix, name, fields in AXI_STREAMS:
            stream = getattr(engine, name)
            port = {axi: getattr(self, f"{prefix}_{axi}")
                    for axi in (*fields, "tvalid", "tready")}
            ours = {axi: stream.payload if field is None else stream.payload[field]
                    for axi, field in fields.items()}
            ours["tvalid"], ours["tready"] = stream.valid, stream.ready
            for axi in port:
                # Whichever side the engine drives, the other side follows.
                driven_here = self.signature.members[f"{prefix}_{axi}"].flow == Out
                dst, src = (port[axi], ours[axi]) if driven_here else (ours[axi], port[axi])
                m.d.comb += dst.eq(src)
        for name in engine.signature.members["status"].signature.members:
            m.d.comb += getattr(self, f"status_{name}").eq(getattr(engine.status, name))
        return m
