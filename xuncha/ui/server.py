"""Serving the dashboard: the Streamlit server started in this process (`xuncha serve`) with
DownloadGuard in front of it."""

from __future__ import annotations

from pathlib import Path

from xuncha.ui.download_guard import install_download_guard


def serve(app_file: Path, *, port: int, address: str) -> int:
    """Start the Streamlit server on app_file in this process (what `xuncha serve` runs)."""
    # Streamlit treats an app with a pages/ folder as an old-style multipage app until the
    # entry point has run once, so a shared link opened first on a fresh server would run a
    # page without app.py (no filters, no navigation). app.py declares its pages with
    # st.navigation; say so before the server starts.
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli as streamlit_cli

    PagesManager.uses_pages_directory = False
    install_download_guard()
    argv = ["run", str(app_file), "--server.port", str(port), "--server.address", address]
    return int(streamlit_cli.main(args=argv, prog_name="streamlit", standalone_mode=False) or 0)
