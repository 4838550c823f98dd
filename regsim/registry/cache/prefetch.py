"""Prefetching an image's layers when its manifest is fetched, the proposal of Anwar et al. (FAST '18).

A pull is a manifest GET followed, within seconds, by GETs of the layers the client lacks; so the
manifest request announces which blobs are about to be read. :class:`PrefetchOnManifest` wraps
any :class:`~.policies.CachePolicy` and, on a manifest GET, admits the image's layers before the
client asks for them. The registry knows an image's layers from its manifest; a trace does not
carry manifests, so :class:`ImageIndex` learns them from the requests themselves: the layers a
client uploads (or finds already there, by HEAD) before it pushes a manifest, and the layers a
client fetches after fetching a manifest.

Prefetched bytes are read from the backend whether or not a client then asks for them; the
wrapper counts them, and those evicted before any use (``wasted``), so a higher hit ratio can be
weighed against the extra backend reads.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import asdict, dataclass

from .policies import CachePolicy

__all__ = ["ImageIndex", "PrefetchOnManifest", "PrefetchStats"]

Image = tuple[str, str]  # (repository, reference)


class ImageIndex:
    """Which layers (digest -> bytes) make up which image, learnt from pushes and pulls.

    ``follow_s`` bounds how long after a manifest GET a client's layer GETs still count as part
    of that pull. An image asked for by a reference never seen falls back to the image of that
    repository pushed or pulled last.
    """

    def __init__(self, follow_s: float = 600.0) -> None:
        if not follow_s > 0:
            raise ValueError(f"follow_s must be positive, got {follow_s!r}")
        self.follow_s = float(follow_s)
        self.sizes: dict[str, int] = {}
        self._images: dict[Image, dict[str, int]] = {}
        self._latest: dict[str, Image] = {}
        self._pushing: dict[tuple[str, str], dict[str, int]] = {}
        self._pulling: dict[tuple[str, str], tuple[Image, float]] = {}

    def __len__(self) -> int:
        return len(self._images)

    def layers(self, repository: str, reference: str) -> dict[str, int]:
        """The known layers of ``repository:reference`` (else of the repository's latest image)."""
        image = (repository, reference)
        if image not in self._images:
            image = self._latest.get(repository, image)
        return dict(self._images.get(image, {}))

    def blob_pushed(self, client: str, repository: str, digest: str, size: int) -> None:
        self.sizes[digest] = size
        self._pushing.setdefault((client, repository), {})[digest] = size

    def blob_checked(self, client: str, repository: str, digest: str) -> None:
        """A HEAD of a blob during a push: a layer the pushed image reuses, if its size is known."""
        if digest in self.sizes:
            self._pushing.setdefault((client, repository), {})[digest] = self.sizes[digest]

    def manifest_pushed(self, client: str, repository: str, reference: str) -> None:
        layers = self._pushing.pop((client, repository), {})
        image = (repository, reference)
        if layers:
            self._images[image] = layers
        self._latest[repository] = image

    def manifest_pulled(self, client: str, repository: str, reference: str, time: float) -> None:
        image = (repository, reference)
        self._pulling[(client, repository)] = (image, time)
        if image in self._images or repository not in self._latest:
            self._latest[repository] = image

    def blob_pulled(self, client: str, repository: str, digest: str, size: int, time: float) -> None:
        self.sizes[digest] = size
        pull = self._pulling.get((client, repository))
        if pull is not None and time - pull[1] <= self.follow_s:
            self._images.setdefault(pull[0], {})[digest] = size
            self._latest[repository] = pull[0]


@dataclass
class PrefetchStats:
    """Prefetches made, those a client then asked for (``used``) and those evicted unused (``wasted``)."""

    prefetched: int = 0
    prefetched_bytes: int = 0
    used: int = 0
    used_bytes: int = 0
    wasted: int = 0
    wasted_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class PrefetchOnManifest:
    """``cache`` plus prefetching: a manifest GET admits the image's layers ahead of their GETs.

    ``skip_client_layers`` leaves out layers the asking client fetched or pushed before (it
    probably still has them, as the study's design assumes); ``admit_pushed`` also caches each
    uploaded layer, since pushes are followed by pulls of the same image.
    """

    def __init__(self, cache: CachePolicy, *, index: ImageIndex | None = None, skip_client_layers: bool = False,
                 admit_pushed: bool = False) -> None:
        self.cache = cache
        self.index = index if index is not None else ImageIndex()
        self.skip_client_layers = skip_client_layers
        self.admit_pushed = admit_pushed
        self.stats = PrefetchStats()
        self._unused: dict[Hashable, int] = {}
        self._client_has: dict[str, set[str]] = {}
        cache.on_evict = self._evicted

    @property
    def name(self) -> str:
        return f"{self.cache.name}+prefetch"

    def manifest_get(self, client: str, repository: str, reference: str, time: float = 0.0) -> list[str]:
        """A client fetched a manifest: prefetch the image's layers; returns the digests prefetched."""
        self.index.manifest_pulled(client, repository, reference, time)
        has = self._client_has.get(client, set()) if self.skip_client_layers else set()
        fetched = []
        for digest, size in self.index.layers(repository, reference).items():
            if digest in self.cache or digest in has:
                continue
            if self.cache.admit(digest, size):
                self.stats.prefetched += 1
                self.stats.prefetched_bytes += size
                self._unused[digest] = size
                fetched.append(digest)
        return fetched

    def blob_get(self, client: str, repository: str, digest: str, size: int, time: float = 0.0) -> bool:
        """A client fetched a layer: True when the cache had it."""
        self.index.blob_pulled(client, repository, digest, size, time)
        hit = self.cache.request(digest, size)
        prefetched = self._unused.pop(digest, None)
        if hit and prefetched is not None:
            self.stats.used += 1
            self.stats.used_bytes += prefetched
        self._remember(client, digest)
        return hit

    def blob_head(self, client: str, repository: str, digest: str) -> None:
        self.index.blob_checked(client, repository, digest)

    def blob_put(self, client: str, repository: str, digest: str, size: int) -> None:
        self.index.blob_pushed(client, repository, digest, size)
        if self.admit_pushed:
            self.cache.admit(digest, size)
        self._remember(client, digest)

    def manifest_put(self, client: str, repository: str, reference: str) -> None:
        self.index.manifest_pushed(client, repository, reference)

    def _remember(self, client: str, digest: str) -> None:
        if self.skip_client_layers:
            self._client_has.setdefault(client, set()).add(digest)

    def _evicted(self, key: Hashable, size: int) -> None:
        if self._unused.pop(key, None) is not None:
            self.stats.wasted += 1
            self.stats.wasted_bytes += size
