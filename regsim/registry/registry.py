"""The registry facade: one object wiring storage nodes, codec, encryption, repositories and GC.

Every public method does real work and records it on the active receipt; wrap a call in
``receipts.collect()`` to get the receipt of exactly that call::

    reg = Registry(RegistryConfig(codec="rs(4,2)", nodes=6, encryption="aes-256-gcm"))
    with receipts.collect() as r:
        d = reg.put_blob("library/app", layer_bytes)
    print(r.summary())
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from . import receipts
from .blobstore import BlobStore
from .cluster.cluster import StorageCluster
from .cluster.repair import RepairReport, repair
from .codecs.parse import parse_codec
from .config import RegistryConfig
from .crypto.envelope import EnvelopeCipher
from .crypto.keyring import Keyring
from .descriptors import OCI_LAYER, OCI_MANIFEST, Descriptor
from .digest import Digest, verify
from .errors import ConfigError
from .gc import GcReport, UploadSweep, collect_garbage, sweep_uploads
from .manifests import image_documents, parse_manifest
from .metadata import MetadataStore
from .names import validate_name
from .repositories import Repositories, StoredManifest
from .storage.factory import make_backend
from .storage.metered import MeteredBackend
from .uploads import Uploads

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class PushedImage:
    repo: str
    tag: str
    manifest: Digest
    layers: tuple[Digest, ...]
    config: Digest


class Registry:
    def __init__(self, config: RegistryConfig | None = None, *, clock: Callable[[], float] = time.time,
                 keyring: Keyring | None = None) -> None:
        self.config = config = config or RegistryConfig()
        self.clock = clock
        self.codec = parse_codec(config.codec)
        if config.nodes < self.codec.n:
            raise ConfigError(
                f"registry.storage.nodes: codec {self.codec.name} writes {self.codec.n} fragments "
                f"and needs at least {self.codec.n} storage nodes, got {config.nodes}"
            )
        self.nodes = [
            MeteredBackend(self._backend(name, config.node_root(name)), node=name) for name in config.node_names()
        ]
        self.meta = MetadataStore(self._backend("meta", config.meta_root()))
        self.cluster = StorageCluster(self.nodes, self.codec, origin=config.frontend,
                                      replica_reads=config.replica_reads)
        if config.persistent:
            self.cluster.rescan()  # a store reopened (files, a bucket): rebuild where each fragment lives
        self.keyring = None
        cipher = None
        if config.encryption == "aes-256-gcm":
            self.keyring = keyring or self._load_keyring()
            cipher = EnvelopeCipher(self.keyring, segment_size=config.segment_size, node=config.frontend)
        self.blobs = BlobStore(self.cluster, self.meta, cipher=cipher, node=config.frontend, clock=clock,
                               verify_reads=config.verify_reads, extent_size=config.extent_size)
        self.repos = Repositories(self.blobs, self.meta, clock=clock)
        self.uploads = Uploads(self.meta, clock=clock)

    def _backend(self, name: str, root):
        return make_backend(self.config.backend_spec(name), name=name, root=root)

    def _load_keyring(self) -> Keyring:
        path = self.config.keyring
        if path is None:
            return Keyring.generate()
        if path.exists():
            return Keyring.load(path)
        ring = Keyring.generate()
        ring.save(path)
        return ring

    # -- blobs -------------------------------------------------------------------------------

    def put_blob(self, repo: str, data: bytes | bytearray | memoryview, digest: str | Digest | None = None) -> Digest:
        """Monolithic upload: verify (if ``digest``), store, link into ``repo``."""
        validate_name(repo)
        d = self.blobs.put(data, digest)
        self.repos.link_blob(repo, d)
        return d

    def put_blob_stream(self, repo: str, chunks: Iterable[Buffer], digest: str | Digest) -> Digest:
        """Monolithic upload of a stream that must hash to ``digest``; never whole in memory."""
        validate_name(repo)
        d = self.blobs.put_stream(chunks, digest)
        self.repos.link_blob(repo, d)
        return d

    def iter_blob(self, repo: str, digest: str | Digest, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The blob's bytes (from ``offset``, ``length`` of them or to the end), one extent at a time."""
        return self.blobs.iter_range(self.repos.require_blob(repo, digest), offset, length)

    def check_blob(self, repo: str, digest: str | Digest, offset: int = 0, length: int | None = None) -> None:
        """BlobLost now if the range cannot be read back (nodes down, fragments gone), before any
        byte of it is read (:meth:`BlobStore.check_readable`)."""
        self.blobs.check_readable(self.repos.require_blob(repo, digest), offset, length)

    def lost_blobs(self) -> list[Digest]:
        """Blobs whose latest check or read found them unrecoverable, sorted."""
        return sorted(self.blobs.lost_blobs(), key=str)

    def get_blob(self, repo: str, digest: str | Digest) -> bytes:
        return self.blobs.get(self.repos.require_blob(repo, digest))

    def read_blob(self, repo: str, digest: str | Digest, offset: int, length: int) -> bytes:
        return self.blobs.read_range(self.repos.require_blob(repo, digest), offset, length)

    def stat_blob(self, repo: str, digest: str | Digest) -> int:
        return self.blobs.size(self.repos.require_blob(repo, digest))

    def has_blob(self, repo: str, digest: str | Digest) -> bool:
        return self.repos.has_blob(repo, Digest.parse(digest))

    def mount_blob(self, repo: str, from_repo: str, digest: str | Digest) -> Digest:
        return self.repos.mount(repo, from_repo, digest)

    def delete_blob(self, repo: str, digest: str | Digest) -> None:
        """Unlink the blob from ``repo``; its bytes go when GC finds nothing else uses them."""
        self.repos.unlink_blob(repo, digest)

    # -- uploads -----------------------------------------------------------------------------

    def start_upload(self, repo: str) -> str:
        return self.uploads.start(validate_name(repo))

    def upload_chunk(self, repo: str, upload_id: str, data: Buffer | Iterable[Buffer],
                     offset: int | None = None) -> int:
        """Append bytes (or a stream of them) at ``offset`` (if given); returns the new offset."""
        return self.uploads.append(repo, upload_id, data, offset)

    def upload_offset(self, repo: str, upload_id: str) -> int:
        return self.uploads.offset(repo, upload_id)

    def finish_upload(self, repo: str, upload_id: str, digest: str | Digest,
                      final: Buffer | Iterable[Buffer] = b"", offset: int | None = None) -> Digest:
        """Close an upload: the content must hash to ``digest``; on mismatch the session stays open."""
        with self.uploads.hold(repo, upload_id):
            self.uploads.append(repo, upload_id, final, offset)
            d = self.put_blob_stream(repo, self.uploads.chunks(repo, upload_id), digest)
            self.uploads.discard(repo, upload_id)
        return d

    def cancel_upload(self, repo: str, upload_id: str) -> None:
        self.uploads.discard(repo, upload_id)

    # -- manifests ---------------------------------------------------------------------------

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str | None = None, *,
                     tags: Sequence[str] = ()) -> Digest:
        """Store a manifest by tag or by digest; ``tags`` (with a digest) are tagged too."""
        return self.repos.put_manifest(repo, reference, data, media_type, tags=tags)

    def get_manifest(self, repo: str, reference: str) -> StoredManifest:
        return self.repos.get_manifest(repo, reference)

    def delete_manifest(self, repo: str, digest: str) -> Digest:
        return self.repos.delete_manifest(repo, digest)

    def delete_tag(self, repo: str, tag: str) -> None:
        self.repos.delete_tag(repo, tag)

    def tags(self, repo: str, n: int | None = None, last: str | None = None) -> list[str]:
        return self.repos.tags(repo, n, last)

    def catalog(self, n: int | None = None, last: str | None = None) -> list[str]:
        return self.repos.catalog(n, last)

    def referrers(self, repo: str, digest: str | Digest, artifact_type: str | None = None) -> dict:
        return self.repos.referrers(repo, digest, artifact_type)

    # -- images (convenience for demos and the simulator) ------------------------------------

    def push_image(self, repo: str, tag: str, layers: Sequence[bytes | memoryview], config: bytes | None = None) -> PushedImage:
        """Push layers, a config (``config``, else a minimal one listing the layers) and an OCI image
        manifest (:func:`~.manifests.image_documents`); returns what was stored."""
        layer_digests = tuple(self.put_blob(repo, layer) for layer in layers)
        image = image_documents([Descriptor(OCI_LAYER, d, len(layer)) for d, layer in zip(layer_digests, layers)],
                                config=config)
        config_digest = self.put_blob(repo, image.config)
        digest = self.put_manifest(repo, tag, image.manifest, OCI_MANIFEST)
        return PushedImage(repo, tag, digest, layer_digests, config_digest)

    def pull_image(self, repo: str, reference: str) -> list[bytes]:
        """Fetch the manifest and every layer (verified); returns the layers' bytes in order."""
        stored = self.get_manifest(repo, reference)
        manifest = parse_manifest(stored.data)
        layers = []
        for desc in manifest.layers:
            data = self.get_blob(repo, desc.digest)
            verify(data, desc.digest, node=self.config.frontend)
            layers.append(data)
        return layers

    # -- operations --------------------------------------------------------------------------

    def fail_node(self, name: str) -> None:
        self.cluster.fail_node(name)

    def restore_node(self, name: str) -> None:
        self.cluster.restore_node(name)

    def replace_node(self, name: str) -> None:
        """The node comes back as a new, empty disk (its old content is destroyed)."""
        root = self.config.node_root(name)
        if root is not None and root.exists():
            shutil.rmtree(root)
        fresh = MeteredBackend(self._backend(name, root), node=name)
        clear = getattr(fresh.inner, "clear", None)  # a store that outlives its backend object (S3)
        if clear is not None:
            clear()
        self.nodes[self.config.node_names().index(name)] = fresh
        self.cluster.replace_node(name, fresh)

    def repair(self) -> RepairReport:
        return repair(self.cluster)

    def gc(self, *, grace_s: float = 3600.0, dry_run: bool = False, delete_untagged: bool = False,
           upload_grace_s: float | None = None) -> GcReport:
        """Collect garbage (:func:`~.gc.collect_garbage`); stale uploads and temporary parts go after
        ``upload_grace_s`` (default: the configuration's ``upload_grace_s``, else ``grace_s``)."""
        if upload_grace_s is None:
            upload_grace_s = self.config.upload_grace_s
        return collect_garbage(self.repos, self.blobs, self.meta, self.uploads, grace_s=grace_s,
                               dry_run=dry_run, delete_untagged=delete_untagged, clock=self.clock,
                               upload_grace_s=upload_grace_s, temp_backends=self._temp_backends())

    def sweep_uploads(self, *, grace_s: float | None = None, dry_run: bool = False) -> UploadSweep:
        """Discard upload sessions idle for longer than ``grace_s`` (default: the configuration's
        ``upload_grace_s``, else an hour) and remove what writers that died left: temporary parts
        on the metadata store and the storage nodes, and the stored extents of pushes killed before
        their blob was recorded (:func:`~.gc.sweep_uploads`)."""
        if grace_s is None:
            grace_s = self.config.upload_grace_s if self.config.upload_grace_s is not None else 3600.0
        return sweep_uploads(self.uploads, self._temp_backends(), grace_s=grace_s, dry_run=dry_run, clock=self.clock,
                             blobs=self.blobs)

    def _temp_backends(self) -> list:
        return [self.meta.backend, *self.nodes]

    def stored_bytes(self) -> int:
        """Bytes held by the storage nodes (fragments and their headers), for storage overhead."""
        return self.cluster.stored_bytes()


__all__ = ["Registry", "RegistryConfig", "PushedImage", "receipts"]
