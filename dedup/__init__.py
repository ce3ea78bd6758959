"""fragstore's storage engine: content-defined dedup with S3 meaning and no HTTP.

Public API: :class:`dedup.store.Store` (the async facade),
:class:`dedup.readonly.ReadOnlyStore` (a data directory read without writing),
the value types in :mod:`dedup.types`, the exceptions in :mod:`dedup.errors`,
and :func:`dedup.fsutil.lock_data_dir` (the data directory's lock, for a tool
that changes a file beside the store, such as the root credentials).
"""

from dedup.errors import EngineError
from dedup.readonly import ReadOnlyStore
from dedup.store import Store
from dedup.types import ObjectMeta, StoreConfig

__all__ = ["EngineError", "ObjectMeta", "ReadOnlyStore", "Store", "StoreConfig"]
