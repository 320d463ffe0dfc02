"""The store: schema, migrations, versioned DuckDB files, and read-only query access."""

from xuncha.store.reader import Reader, open_reader
from xuncha.store.store import Store, StoreError

__all__ = ["Reader", "Store", "StoreError", "open_reader"]
