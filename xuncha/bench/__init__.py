"""The benchmark harness of issue 8 (`xuncha bench`): page query sets, the same questions in
plain SQLite and pandas side by side (answers checked equal), AppTest and browser render times,
the 100k-row ledger import, memory bandwidth and an optional loopback load test.

Measurement only: nothing here is used by the product. pandas, psutil and playwright are
development dependencies and are imported only inside the functions that need them, as is
streamlit (AppTest)."""
