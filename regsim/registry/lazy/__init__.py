"""Lazy-pulling layer formats on real bytes: eStargz, SOCI, Nydus-style chunks, block images.

A runtime that pulls lazily starts a container before its layers are downloaded and fetches
each file's bytes with HTTP ``Range`` requests when the file is first read. That needs a layer
format where a file can be found and decoded from a few ranges; this package builds four of them
from a plain OCI layer, and reads each back through Range reads only:

=====================  ===================================================================
module                 what it holds
=====================  ===================================================================
``ranges``             :class:`~.ranges.RangeSource` (a blob read by ranges, counted),
                       :class:`~.ranges.ByteRange`
``tarlayer``           a plain layer (tar, tar+gzip, tar+zstd) read into its entries
``layer``              :class:`~.layer.LazyLayer`, the reader interface every format offers
                       (``files()``, ``read_file(name)``, ``byte_ranges(name)``, bytes fetched)
``estargz``            eStargz: per-file gzip members, TOC ``stargz.index.json``, 51-byte footer,
                       landmark files for prefetch
``soci``               SOCI: a zTOC (file table and ``indexed_gzip`` checkpoints) for an
                       unmodified gzip layer, stored as an OCI artifact found by referrers
``nydus``              Nydus-style: 1 MiB content-addressed zstd chunks, a per-layer bootstrap,
                       a chunk dictionary shared across layers and images (dedup ratio)
``blockimage``         overlaybd/DADI-style: files in a small block filesystem image, cut into
                       zstd segments behind a jump table
``convert``            :func:`~.convert.convert_layer` to any format and
                       :meth:`~.convert.ConvertedLayer.open` for its lazy reader
``layout``             :func:`~.layout.convert_layout`: the images of an OCI layout
                       (``regsim image convert``)
``trace``              :class:`~.trace.StartupTrace`: a start-up access trace, an ordered list of
                       :class:`~.trace.Read` (file or raw reads, CPU between), saved as JSON
``synthetic``          :func:`~.synthetic.synthesize`: a trace over an image's files from a profile
                       (fraction read, locality, CPU between reads, partial reads, seed)
``recorded``           :func:`~.recorded.load_recorded`: overlaybd trace-prefetch files, CSV, JSON lines
``replay``             :func:`~.replay.plan`: a trace over lazy layers as a :class:`~.replay.FetchPlan`
                       (the remote ranges and fetch units each read needs, cached or new)
``unpack``             :func:`~.unpack.unpack_layer`: a plain layer decompressed and extracted onto
                       a directory (OCI whiteouts, nothing written outside it), with receipts
=====================  ===================================================================

docs/lazy-pulling.md describes each layout and what differs from the real tools. Nothing here
imports the simulator: a model asks a :class:`~.layer.LazyLayer` which ranges a file costs.
"""
