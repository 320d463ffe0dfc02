"""Serving the dashboard: the Streamlit server started in this process (`xuncha serve`) with
DownloadGuard in front of it, and the same app when started with plain `streamlit run app.py`.

Two things `xuncha serve` settles before its server starts: Streamlit must not treat the
`pages/` folder as an old-style multipage app (app.py declares its pages with st.navigation),
and DownloadGuard must stand in front of the server. `streamlit run app.py` runs no code of
ours before its server starts, so `adopt_running_server()` settles both at the first script
run of the process (this module is imported by `xuncha.ui`, which app.py and every page
import first): it switches the pages folder mode off, asks for that first run to be done again
as app.py when Streamlit had started it as a page script of the folder (a deep link opened
first on a fresh server), and puts DownloadGuard in front of the already running server."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any

from xuncha.ui import download_guard
from xuncha.ui.download_guard import MEDIA_PREFIX, DownloadGuard, install_download_guard

_LOG = logging.getLogger("xuncha")


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


def _running_runtime() -> Any | None:
    """Streamlit's runtime when a real server runs in this process (not AppTest's stand-in,
    not a bare import)."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    runtime = Runtime.instance()
    return runtime if type(runtime) is Runtime else None


def _redo_first_run_as_app() -> None:
    """Streamlit started this run in its pages folder mode (the first run of a fresh server
    started by `streamlit run`): switch the mode off and ask for the run to be done again,
    now through app.py, for the page the browser asked for. The request is honoured at the
    run's next output, after the imports (nothing is raised here, inside an import)."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    was = PagesManager.uses_pages_directory
    PagesManager.uses_pages_directory = False
    ctx = get_script_run_ctx()
    if not was or ctx is None or ctx.script_requests is None:
        return
    ctx.script_requests.request_rerun(
        RerunData(
            query_string=ctx.query_string,
            page_name=ctx.pages_manager.intended_page_name or "",
            context_info=ctx.context_info,
        )
    )


def _guard_running_server(runtime: Any) -> None:
    """Put DownloadGuard in front of the Starlette application Streamlit is already serving
    (a server started by `streamlit run`, which `install_download_guard` came too late for).
    Starlette builds its middleware stack once and keeps it in `middleware_stack`; the guard
    wraps that stack, as it wraps the whole application under `xuncha serve`."""
    from starlette.applications import Starlette
    from streamlit import config as streamlit_config

    from xuncha.ui.data import store

    apps = [o for o in gc.get_objects() if isinstance(o, Starlette)]
    if not apps:
        raise RuntimeError("no running Starlette application to guard")
    base = str(streamlit_config.get_option("server.baseUrlPath") or "").strip("/")
    prefix = f"/{base}{MEDIA_PREFIX}" if base else MEDIA_PREFIX
    for app in apps:
        stack = app.middleware_stack or app.build_middleware_stack()
        if not isinstance(stack, DownloadGuard):
            files = runtime.media_file_mgr.read_file
            app.middleware_stack = DownloadGuard(stack, files, root=store().root, prefix=prefix)
    download_guard._GUARD["installed"] = True


def adopt_running_server() -> None:
    """Make a server started by `streamlit run app.py` serve what `xuncha serve` serves (see
    the module's docstring). Does nothing under `xuncha serve`, in AppTest or outside a
    server; idempotent."""
    runtime = _running_runtime()
    if runtime is None:
        return
    _redo_first_run_as_app()
    if not download_guard.guard_installed():
        try:
            _guard_running_server(runtime)
        except Exception:
            # Downloads stay off (the buttons say so) rather than served unguarded.
            _LOG.exception("DownloadGuard could not be put in front of the running server")


adopt_running_server()
