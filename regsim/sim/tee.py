"""Running the registry in a trusted execution environment (TEE): what it costs, as a transformation.

A TEE changes no registry logic; it changes prices. This model turns a cost profile into a TEE
profile and charges the boundary crossings that I/O needs:

1. **Transitions.** Every call that leaves the protected domain for I/O (a disk read or write, a
   network send, a database query) exits and re-enters it: an SGX OCALL, a TD or SEV-SNP VM exit.
   Each crossing costs ``transition_s``; large I/O is assumed to cross once per ``io_chunk_bytes``.
   The bytes crossing are also copied once between protected and shared memory (SGX marshals
   OCALL buffers; TDX and SEV-SNP guests bounce all DMA through unencrypted swiotlb buffers):
   ``copy_s_per_byte``. :meth:`TeeModel.transition_cost` prices this per receipt item; the
   executor charges it on the node's CPU.
2. **Memory encryption.** CPU work runs ``cpu_slowdown`` times slower.
3. **Paging.** SGX protects only the enclave page cache (EPC). Once the working set exceeds it,
   the fraction ``(ws - epc) / ws`` of memory touched is paged (evicted encrypted and reloaded with
   an integrity check): ``paging_s_per_byte`` more for each byte processed, and ``paging_op_slowdown``
   for per-operation work. Confidential VMs encrypt all guest memory and do not page this way.
4. **Attestation** once at start: ``attestation_s``.

Defaults per TEE and where each comes from (cycles converted at a 2.5 GHz reference clock). A
value is either **measured** (a published measurement of that quantity, cited) or **assumed** (no
published counterpart found; the reasoning is given). None is chosen to reproduce an end-to-end
figure: ``scenarios/published/tee-io.yaml`` compares what these parameters predict with published
I/O overheads, and ``docs/auth-comparison.md`` ("The TEE's cost") reports where it matches.

- TDX transitions (**measured**): a TD exit that reaches the host VMM (TDG.VP.VMCALL through the
  TDX module) costs 10,397-10,421 cycles, 3,851-3,859 ns, for a CPUID leaf the host emulates, against
  1,742-1,815 cycles (645-672 ns) for leaves the TDX module answers itself (Misono, Stavrakakis,
  Santos, Bhatotia, "Confidential VMs Explained: An Empirical Analysis of AMD SEV-SNP and Intel
  TDX", Proc. ACM Meas. Anal. Comput. Syst. 8(3), SIGMETRICS 2025: the example output of its
  artifact's VM-exit benchmark, github.com/TUM-DSE/CVM_eval, benchmarks/vmexit/README.md, saved as
  tdx.txt; the cheap leaves, 0, 2, 0x15 and 0x16, are those the TDX module virtualises) -> 3.85 us.
  Not the paper's own table, which we could not read.
- SEV-SNP transitions (**assumed**): an SNP guest's I/O exit is a #VC exception and a VMGEXIT
  through the GHCB page, with no module in between; no published per-exit time was found. We take
  3 us, a little under TDX's measured 3.85 us.
- SGX transitions (**measured**, not rechecked here): ECALL/OCALL round trips cost ~8,000-14,000
  cycles (Weisse, Bertacco, Austin, "Regaining Lost Cycles with HotCalls", ISCA 2017; ~8,600 ECALL
  / ~8,200 OCALL warm, more cold; speculative-execution mitigations have raised them since) ->
  12,000 cycles = 4.8 us.
- Exits per byte of I/O (**assumed**): a TDX or SEV-SNP guest bounces all DMA through swiotlb,
  which maps at most 256 KiB at once (Linux ``kernel/dma/swiotlb.c``: ``IO_TLB_SEGSIZE`` 128 slots
  of 2 KiB; CVM guests log "swiotlb buffer is full (sz: 262144 bytes)" when a request of that size
  finds no room, e.g. Dstack-TEE/dstack PR #1192), and virtio caps its requests at that
  (``virtio_max_dma_size``); each request costs about two exits (the notification, and the vCPU's
  wake-up for the completion) -> one exit per 128 KiB. An SGX enclave leaves once per OCALL, one
  per read()/send() of the application's buffer: 1 MiB (the registry streams in large chunks).
- Bounce-buffer copies (**assumed**): one memcpy of each I/O byte between private and shared
  memory, ~10 GB/s on one core -> 0.1 ns per byte (Linux kernel documentation, "Intel Trust Domain
  Extensions (TDX)": DMA uses shared memory via swiotlb; AMD SEV-SNP guests likewise). Bifrost (Li
  et al., USENIX ATC 2023) measures this "CVM-IO tax" -- bouncing plus packet processing -- taking
  more than 50 % of a CVM's CPU cycles under network-intensive load, but gives no per-byte rate.
  SGX OCALL marshalling copies into encrypted EPC: 0.25 ns per byte (estimate).
- TDX and SEV-SNP memory encryption (**assumed**, not rechecked here): a few percent on CPU-bound
  work (Intel, "Performance Considerations of Intel Trust Domain Extensions on 4th Generation
  Intel Xeon Scalable Processors", 2023; AMD, "AMD Memory Encryption" white paper; Akram et al.,
  "Performance Analysis of Scientific Computing Workloads on TEEs", IISWC 2021: SEV 1x-1.15x with
  NUMA-aware placement) -> 3 %.
- SGX memory encryption (**assumed**): the memory encryption engine adds latency to every
  last-level-cache miss; we take 10 % for streaming crypto (Akram et al.'s lower bound of 1.2x
  includes transitions).
- SGX EPC: 128 MiB on SGX1 parts (Skylake to Coffee Lake; 256 MiB on some later ones), of which
  ~93 MiB is usable by enclaves (Intel SGX Developer Guide, "EPC size"; Costan & Devadas, "Intel
  SGX Explained", 2016). Ice Lake-SP and later SGX2 parts allow up to 512 GB: override
  ``protected_bytes``.
- SGX paging: one EPC page swap costs ~40,000 cycles (Taassori, Shafiee, Balasubramonian, "VAULT",
  ASPLOS 2018) -> 16 us per 4 KiB page = 3.9 ns per byte; the same paper measures an average 5x
  slowdown from paging (``paging_op_slowdown``), and Akram et al. report 1.2x-126x for SGX, i.e.
  slowdowns of 10x or more once working sets exceed the EPC.
- Attestation (**assumed**): quote generation plus verification is tens of milliseconds when the
  verification collateral is cached (Intel SGX/TDX DCAP; AMD SNP_GET_REPORT from the PSP plus VCEK
  check; the CVM_eval artifact measures ``snpguest report`` at 8 ms and each certificate or report
  verification at 31-34 ms, fetching the VCEK from AMD's service ~1 s) -> 50 ms for SGX and TDX,
  20 ms for SEV-SNP.

The article this project started from claimed "+8 %" for a registry in a TEE; it is reproduced
only by the TDX parameters ``scenarios/tee-overhead.yaml`` labels "article's parameters" (4 us per
1 MiB, a 6.4 GB/s copy), not by these defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from regsim.registry.receipts import Kind, WorkItem

from .profile import CPU_KINDS, Adjustment, CostProfile

_GHZ = 2.5e9
_MiB = 1 << 20
#: swiotlb maps at most 128 slots of 2 KiB (256 KiB) at once, and a request costs about two exits
_SWIOTLB_EXIT_BYTES = 128 << 10

#: receipt kinds whose work leaves the protected domain: I/O and network.
BOUNDARY_KINDS = frozenset({Kind.DISK_READ, Kind.DISK_WRITE, Kind.TRANSFER, Kind.DB_QUERY})


@dataclass(frozen=True, slots=True)
class TeeModel:
    """The cost parameters of one TEE; build one with :meth:`for_kind` and override what you know."""

    kind: str
    transition_s: float
    copy_s_per_byte: float
    cpu_slowdown: float
    protected_bytes: int | None = None
    paging_s_per_byte: float = 0.0
    paging_op_slowdown: float = 1.0
    attestation_s: float = 0.0
    io_chunk_bytes: int | None = _MiB

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "kind" or value is None:
                continue
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"TEE {self.kind!r}: {f.name} must be a non-negative number, got {value!r}")
        if self.cpu_slowdown < 1 or self.paging_op_slowdown < 1:
            raise ValueError(f"TEE {self.kind!r}: slowdowns are multipliers >= 1")
        if self.io_chunk_bytes == 0 or self.protected_bytes == 0:
            raise ValueError(f"TEE {self.kind!r}: io_chunk_bytes and protected_bytes must be positive or None")

    @classmethod
    def for_kind(cls, kind: str, **overrides: float | int | None) -> TeeModel:
        """The documented defaults for ``"sgx"``, ``"tdx"`` or ``"sev-snp"``, with overrides."""
        try:
            base = DEFAULTS[kind]
        except KeyError:
            raise ValueError(f"unknown TEE kind {kind!r}; known: {', '.join(sorted(DEFAULTS))}") from None
        try:
            return replace(base, **overrides)
        except TypeError:
            known = [f.name for f in fields(cls) if f.name != "kind"]
            raise ValueError(f"unknown TEE parameter in {sorted(overrides)}; known: {known}") from None

    # -- boundary crossings ---------------------------------------------------------------------

    def crossings(self, item: WorkItem) -> int:
        """How many exits and re-entries ``item`` needs (0 for work inside the TEE)."""
        if item.kind not in BOUNDARY_KINDS:
            return 0
        if item.kind == Kind.DB_QUERY:
            return max(int(item.amount), 1)
        if self.io_chunk_bytes is None:
            return 1
        return max(1, -(-int(item.amount) // self.io_chunk_bytes))

    def transition_cost(self, item: WorkItem) -> float:
        """CPU-seconds the TEE adds to ``item`` for leaving and re-entering the protected domain."""
        calls = self.crossings(item)
        if not calls:
            return 0.0
        copied = item.amount if item.kind in Kind.BYTE_KINDS else 0
        return calls * self.transition_s + copied * self.copy_s_per_byte

    # -- CPU work --------------------------------------------------------------------------------

    def paged_fraction(self, working_set_bytes: int) -> float:
        """Share of memory accesses that miss protected memory and page (0 when it all fits)."""
        if working_set_bytes < 0:
            raise ValueError(f"working set must be non-negative bytes, got {working_set_bytes}")
        if self.protected_bytes is None or working_set_bytes <= self.protected_bytes:
            return 0.0
        return (working_set_bytes - self.protected_bytes) / working_set_bytes

    def adjustments(self, working_set_bytes: int) -> dict[str, Adjustment]:
        """Per CPU kind, how the TEE transforms its cost at this working-set size."""
        paged = self.paged_fraction(working_set_bytes)
        per_byte = Adjustment(self.cpu_slowdown, paged * self.paging_s_per_byte)
        per_op = Adjustment(self.cpu_slowdown * (1.0 + paged * (self.paging_op_slowdown - 1.0)))
        return {k: per_byte if k in Kind.BYTE_KINDS else per_op for k in CPU_KINDS}

    def apply(self, profile: CostProfile, working_set_bytes: int = 0) -> CostProfile:
        """``profile`` as it prices CPU work inside this TEE with the given working set."""
        return profile.adjusted(self.adjustments(working_set_bytes), name=f"{profile.name}+{self.kind}")


DEFAULTS: dict[str, TeeModel] = {
    "sgx": TeeModel("sgx", transition_s=12_000 / _GHZ, copy_s_per_byte=0.25e-9, cpu_slowdown=1.10,
                    protected_bytes=93 * _MiB, paging_s_per_byte=40_000 / _GHZ / 4096, paging_op_slowdown=5.0,
                    attestation_s=0.050),
    # 3.85 us: Misono et al. (SIGMETRICS 2025) artifact, a TD exit to the host VMM; one exit per 128 KiB (assumed)
    "tdx": TeeModel("tdx", transition_s=3.85e-6, copy_s_per_byte=0.1e-9, cpu_slowdown=1.03, attestation_s=0.050,
                    io_chunk_bytes=_SWIOTLB_EXIT_BYTES),
    # 3 us per exit: assumed (no published SEV-SNP per-exit time found); swiotlb as for TDX
    "sev-snp": TeeModel("sev-snp", transition_s=3e-6, copy_s_per_byte=0.1e-9, cpu_slowdown=1.03,
                        attestation_s=0.020, io_chunk_bytes=_SWIOTLB_EXIT_BYTES),
}
