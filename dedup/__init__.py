"""fragstore's storage engine: content-defined dedup with S3 meaning and no HTTP.

Public API: :class:`dedup.store.Store` (the async facade),
:class:`dedup.readonly.ReadOnlyStore` (a data directory read without writing),
the value types in :mod:`dedup.types` and the exceptions in :mod:`dedup.errors`.
"""

from dedup.errors import EngineError
from dedup.readonly import ReadOnlyStore
from dedup.store import Store
from dedup.types import ObjectMeta, StoreConfig

__all__ = ["EngineError", "ObjectMeta", "ReadOnlyStore", "Store", "StoreConfig"]
