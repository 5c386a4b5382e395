"""Schemas of the GPU and model catalogs (``catalogs/*.yaml``).

Keys carry their unit (``memory_gib``, ``memory_bandwidth_tb_per_s``); properties convert to SI
(bytes, bytes/s, FLOP/s, W) so the numeric core never sees a scale factor.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from planner.schemas.base import StrictModel

Precision = Literal["bf16", "fp16", "fp8", "int8", "int4", "fp4"]
PRECISIONS: tuple[str, ...] = ("bf16", "fp16", "fp8", "int8", "int4", "fp4")

GIB = 1024**3

# Plausible upper bounds: far above any real accelerator or model, low enough that every product the
# core forms stays a finite float (a user catalog's `max_context_tokens: 1e400` must not overflow).
MAX_TFLOPS = 100_000.0
MIN_TFLOPS = 0.1  # lower bounds keep every time and energy the core divides by them finite
MAX_PRICE_USD = 1e9
MAX_WIDTH = 1_000_000
"""hidden, head, FFN and latent widths (elements)"""
MAX_HEADS = 100_000
MAX_EXPERTS = 100_000
MAX_VOCAB = 100_000_000
MAX_CONTEXT_TOKENS = 1_000_000_000
MAX_LAYERS = 1000


class PeakTflops(StrictModel):
    """Dense (no structured sparsity) tensor-core peak, in TFLOP/s (TOP/s for int8/int4).

    A precision is absent where the GPU has no tensor path for it.
    """

    bf16: float | None = Field(None, ge=MIN_TFLOPS, le=MAX_TFLOPS)
    fp16: float | None = Field(None, ge=MIN_TFLOPS, le=MAX_TFLOPS)
    fp8: float | None = Field(None, ge=MIN_TFLOPS, le=MAX_TFLOPS)
    int8: float | None = Field(None, ge=MIN_TFLOPS, le=MAX_TFLOPS)
    int4: float | None = Field(None, ge=MIN_TFLOPS, le=MAX_TFLOPS)
    fp4: float | None = Field(None, ge=MIN_TFLOPS, le=MAX_TFLOPS)


class Interconnect(StrictModel):
    kind: str
    """e.g. nvlink4, nvlink5, pcie4, pcie5, infinity-fabric"""
    bandwidth_gb_per_s: float = Field(ge=0.1, le=100_000)
    """Per-GPU, per-direction bandwidth to its peers inside the server, in GB/s (decimal)."""
    latency_us: float = Field(ge=0.01, le=100)
    """Per-message latency of one collective step, in microseconds."""
    topology: Literal["switch", "mesh", "pcie"] | None = None
    """How the server's GPUs reach each other: ``switch`` (NVSwitch: any peer at the full per-GPU figure),
    ``mesh`` (fully connected point-to-point links, e.g. AMD Infinity Fabric: one peer gets one link, i.e.
    the figure / (GPUs per server - 1)), ``pcie`` (through the host's PCIe root complexes). None: pcie for
    a pcie* kind, else switch."""


class Psu(StrictModel):
    count: int = Field(ge=1, le=64)
    rating_w: float = Field(ge=10, le=100_000)
    redundancy: str
    """e.g. "4+2", "5+1", "N+1", "2N"."""
    efficiency_tier: Literal["titanium", "platinum", "gold", "silver", "bronze"] = "titanium"


class SourcedFigure(StrictModel):
    """A default figure with where it comes from; an estimate says so and gives a plausible range."""

    value: float = Field(ge=0, le=MAX_PRICE_USD)
    low: float | None = Field(None, ge=0, le=MAX_PRICE_USD)
    high: float | None = Field(None, ge=0, le=MAX_PRICE_USD)
    """The plausible range (required for an estimate)."""
    estimate: bool
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _range_holds_the_value(self) -> SourcedFigure:
        if self.estimate and (self.low is None or self.high is None):
            raise ValueError("an estimate needs its plausible range (low and high)")
        if self.low is not None and self.high is not None and not self.low <= self.value <= self.high:
            raise ValueError(f"value {self.value:g} is outside its range {self.low:g}-{self.high:g}")
        return self


class ServerInfrastructure(StrictModel):
    """What a server brings with it beyond its own price: per server, and its support contract."""

    network_usd_per_server: SourcedFigure
    """The server's share of the network outside it: top-of-rack/leaf and spine switch ports, optics
    and cables, USD (the NICs are in the server's price)."""
    storage_usd_per_server: SourcedFigure
    """The server's share of shared storage (model weights, images, logs), USD (local NVMe is in the
    server's price)."""
    support_share_per_year: SourcedFigure
    """Vendor hardware support per year as a share of the hardware capex (GPUs, server, network, storage)."""

    @field_validator("support_share_per_year")
    @classmethod
    def _a_share(cls, v: SourcedFigure) -> SourcedFigure:
        if v.value > 1 or (v.high is not None and v.high > 1):
            raise ValueError("a share per year is at most 1 (100 % of the hardware every year)")
        return v


class ScaleOut(StrictModel):
    """A server's scale-out network: the NICs that reach other servers (for disaggregated serving, the link a
    prefill replica's KV cache crosses to a decode replica in another server), with where the figures come
    from. An estimate says so in ``source`` and gives its plausible range there."""

    gbit_per_s_per_gpu: float = Field(gt=0, le=100_000)
    """NIC line rate per GPU as the vendor configures the server, in Gb/s (gigabits): the server's
    compute-fabric NIC ports' total divided by its GPUs (DGX H100: 8 x 400 Gb/s for 8 GPUs = 400)."""
    latency_us: float = Field(gt=0, le=10_000)
    """One-way latency of one message across the fabric (NIC to NIC through the switches), in microseconds."""
    fabric: Literal["infiniband", "roce", "ethernet"]
    """``infiniband``; ``roce`` (RDMA over Converged Ethernet, and other RDMA Ethernet transports such as
    AWS EFA); ``ethernet`` (TCP, no RDMA)."""
    source: str = Field(min_length=1)

    @property
    def bits_per_s_per_gpu(self) -> float:
        return self.gbit_per_s_per_gpu * 1e9

    @property
    def latency_s(self) -> float:
        return self.latency_us * 1e-6


class Server(StrictModel):
    model: str
    """Reference server, e.g. "NVIDIA DGX H100"."""
    gpus_per_server: int = Field(ge=1, le=72)
    max_power_w: float = Field(ge=10, le=1_000_000)
    """Nameplate maximum input power of the whole server (for circuits and PSUs)."""
    rack_units: int = Field(ge=1, le=48)
    psu: Psu | None = None
    price_usd: float | None = Field(None, ge=0, le=MAX_PRICE_USD)
    """Price of the server without its GPUs (chassis, CPUs, memory, NICs), USD."""
    price_source: str | None = None
    """Where price_usd comes from (or that it is an estimate)."""
    infrastructure: ServerInfrastructure | None = None
    """Network, storage and support figures of this server model (None: not counted, and the plan says so)."""
    scale_out: ScaleOut | None = None
    """The server's scale-out network per GPU (None: disaggregated serving uses the fallback figure
    planner.core.disaggregated.SCALE_OUT_BYTES_PER_S_PER_GPU, and the plan says so)."""
    source: str


class Price(StrictModel):
    usd: float = Field(gt=0, le=MAX_PRICE_USD)
    date: str
    """When the price was observed, YYYY-MM."""
    source: str


class GpuSpec(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    name: str
    vendor: Literal["nvidia", "amd", "intel", "other"]
    architecture: str
    aliases: list[str] = []
    segment: Literal["datacenter", "workstation", "consumer"] = "datacenter"
    """The vendor's product line. A scenario without ``hardware.gpus`` considers datacenter GPUs only
    (workstation and consumer cards lack datacenter licensing, ECC or server cooling)."""
    form_factor: Literal["sxm", "pcie", "oam", "superchip", "other"]
    memory_gib: float = Field(ge=1, le=1024)
    memory_bandwidth_tb_per_s: float = Field(ge=0.01, le=50)
    memory_technology: Literal["hbm2", "hbm2e", "hbm3", "hbm3e", "gddr6", "gddr6x"] | None = None
    """DRAM type: sets the energy per byte moved (planner.core.constants.MEMORY_ENERGY); None: the HBM3 figure."""
    peak_tflops: PeakTflops
    tdp_w: float = Field(ge=10, le=3000)
    idle_w: float = Field(ge=1, le=3000)
    power_limit_min_w: SourcedFigure | None = None
    """The lowest power limit the driver accepts (nvidia-smi "Min Power Limit", AMD's min power cap),
    with its source; None: unknown, so a plan runs this GPU at its full TDP only."""
    interconnect: Interconnect
    server: Server | None = None
    """The reference server this GPU is bought in. Estimates and compare do without it (a user GPU needs
    none); `planner solve` needs it to count servers, racks and their power, and says so."""
    price: Price | None = None
    source: str
    notes: str = ""

    @field_validator("peak_tflops")
    @classmethod
    def _has_a_path(cls, v: PeakTflops) -> PeakTflops:
        if v.fp16 is None and v.bf16 is None:
            raise ValueError("every GPU needs an fp16 or bf16 tensor peak (used for dequantized math)")
        return v

    @model_validator(mode="after")
    def _idle_below_tdp(self) -> GpuSpec:
        if self.idle_w >= self.tdp_w:
            raise ValueError(f"idle_w ({self.idle_w}) must be below tdp_w ({self.tdp_w})")
        low = self.power_limit_min_w
        if low is not None and not self.idle_w < low.value <= self.tdp_w:
            raise ValueError(f"power_limit_min_w ({low.value:g}) must be above idle_w ({self.idle_w:g}) "
                             f"and at most tdp_w ({self.tdp_w:g})")
        return self

    # ---- SI views -------------------------------------------------------------------------
    @property
    def memory_bytes(self) -> float:
        return self.memory_gib * GIB

    @property
    def memory_bandwidth_bytes_per_s(self) -> float:
        return self.memory_bandwidth_tb_per_s * 1e12

    @property
    def interconnect_bytes_per_s(self) -> float:
        return self.interconnect.bandwidth_gb_per_s * 1e9

    @property
    def interconnect_latency_s(self) -> float:
        return self.interconnect.latency_us * 1e-6

    def native_flops(self, precision: str) -> float | None:
        """Dense peak FLOP/s of the tensor path for ``precision``, or None when it has none."""
        v = getattr(self.peak_tflops, precision)
        return None if v is None else v * 1e12

    @property
    def half_flops(self) -> float:
        """Peak of the 16-bit path used for weight-only (dequantized) math."""
        return (self.peak_tflops.bf16 or self.peak_tflops.fp16 or 0.0) * 1e12


class Attention(StrictModel):
    kind: Literal["mha", "gqa", "mla"]
    sliding_window_tokens: int | None = Field(None, ge=1, le=MAX_CONTEXT_TOKENS)
    """Window of the sliding-window layers; None when every layer attends to the full context."""
    sliding_window_layer_fraction: float = Field(0.0, ge=0, le=1)
    """Share of layers that use the sliding window (gemma-2, gpt-oss: 0.5)."""
    kv_lora_rank: int | None = Field(None, ge=1, le=MAX_WIDTH)
    """MLA only: rank of the latent KV cache (DeepSeek-V3: 512)."""
    qk_rope_head_dim: int | None = Field(None, ge=1, le=MAX_WIDTH)
    """MLA only: decoupled RoPE key dim cached beside the latent (DeepSeek-V3: 64)."""

    @model_validator(mode="after")
    def _mla_fields(self) -> Attention:
        if self.kind == "mla" and (self.kv_lora_rank is None or self.qk_rope_head_dim is None):
            raise ValueError("attention.kind mla needs kv_lora_rank and qk_rope_head_dim")
        if self.sliding_window_layer_fraction > 0 and self.sliding_window_tokens is None:
            raise ValueError("sliding_window_layer_fraction > 0 needs sliding_window_tokens")
        return self


class Moe(StrictModel):
    experts_total: int = Field(ge=2, le=MAX_EXPERTS)
    experts_active: int = Field(ge=1, le=MAX_EXPERTS)
    experts_shared: int = Field(0, ge=0, le=MAX_EXPERTS)
    expert_ffn_size: int = Field(ge=1, le=MAX_WIDTH)
    moe_layers: int = Field(ge=1, le=MAX_LAYERS)
    """Layers whose FFN is a mixture of experts (the rest are dense FFN layers)."""

    @model_validator(mode="after")
    def _active_le_total(self) -> Moe:
        if self.experts_active > self.experts_total:
            raise ValueError("experts_active must not exceed experts_total")
        return self


class ModelSpec(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    name: str
    aliases: list[str] = []
    params_total_b: float = Field(ge=1e-3, le=10000)
    params_active_b: float = Field(ge=1e-3, le=10000)
    layers: int = Field(ge=1, le=MAX_LAYERS)
    hidden_size: int = Field(ge=1, le=MAX_WIDTH)
    attention_heads: int = Field(ge=1, le=MAX_HEADS)
    kv_heads: int = Field(ge=1, le=MAX_HEADS)
    head_dim: int = Field(ge=1, le=MAX_WIDTH)
    ffn_size: int = Field(ge=1, le=MAX_WIDTH)
    """Dense FFN intermediate size (of the dense layers for MoE models)."""
    vocab_size: int = Field(ge=1, le=MAX_VOCAB)
    tied_embeddings: bool = False
    """True when the output projection (lm_head) shares the input embedding matrix."""
    attention: Attention
    moe: Moe | None = None
    max_context_tokens: int = Field(ge=1, le=MAX_CONTEXT_TOKENS)
    native_precision: Precision = "bf16"
    """Precision of the published checkpoint (deepseek-v3: fp8; gpt-oss: fp4 experts)."""
    source: str
    notes: str = ""
    generic: bool = False
    """True for an architecture inferred from a bare parameter count (``--params``)."""

    @model_validator(mode="after")
    def _consistency(self) -> ModelSpec:
        if self.params_active_b > self.params_total_b * 1.0001:
            raise ValueError("params_active_b must not exceed params_total_b")
        if self.kv_heads > self.attention_heads:
            raise ValueError("kv_heads must not exceed attention_heads")
        if self.moe is None and abs(self.params_active_b - self.params_total_b) > 0.02 * self.params_total_b:
            raise ValueError("a dense model (no moe block) has params_active_b == params_total_b")
        if self.moe is not None and self.moe.moe_layers > self.layers:
            raise ValueError("moe.moe_layers must not exceed layers")
        return self

    @property
    def is_moe(self) -> bool:
        return self.moe is not None


class GpuCatalogFile(StrictModel):
    schema_version: Literal[1] = 1
    infrastructure_classes: dict[str, ServerInfrastructure] = {}
    """Infrastructure figures shared by a class of servers, written once as YAML anchors that the
    servers' ``infrastructure:`` keys refer to (the loader reads them through the servers)."""
    gpus: list[GpuSpec]


class ModelCatalogFile(StrictModel):
    schema_version: Literal[1] = 1
    models: list[ModelSpec]
