"""Pictures and print previews of a briefing: chart PNGs (Plotly + kaleido + Chromium) and
PDF/PNG renderings of the .docx (LibreOffice headless + poppler's pdftoppm).

Public API
----------
``charts_in_order(briefing) -> list[Chart]``
    The briefing's Chart blocks in document order; a chart's index in this list is its key
    in the ``chart_images`` mapping the .docx writer takes.
``render_charts(briefing, *, renderer=None) -> tuple[dict[int, bytes], str | None]``
    PNG bytes per chart index, and a one-line Chinese note when some or all charts could not
    be drawn (no Chromium, kaleido failed, too slow). Never raises for rendering problems.
``chart_png(chart, *, renderer=None) -> bytes``
    One chart as PNG; raises ``ChartRenderError`` when it cannot be drawn.
``ChartRenderer``
    The process-wide renderer behind the two functions above (``RENDERER``). It starts
    kaleido's sync server lazily, once, under a lock, and waits at most ``timeout`` seconds
    for any one picture (including Chromium's start); after a time-out or a failed start it
    stays unavailable for the life of the process and says why (``unavailable_reason``).
``libreoffice_available() -> bool`` and ``pdftoppm_available() -> bool``
``docx_to_pdf(docx, out_dir, *, timeout=120.0) -> Path | None``
    LibreOffice headless conversion with a private, throw-away user profile; ``None`` when
    LibreOffice is not installed, the conversion fails or takes longer than ``timeout``.
``docx_bytes_to_pdf(docx_bytes, *, timeout=120.0) -> bytes | None``
    The same for bytes in, bytes out (a temporary directory in between).
``pdf_to_png(pdf, out_dir, first_page=1, last_page=2, dpi=80) -> list[Path]``
    One PNG per page with pdftoppm; ``[]`` when poppler-utils is missing or it fails.

Nothing here imports streamlit; kaleido and plotly are imported only when a chart is drawn.
"""

from __future__ import annotations

import contextlib
import copy
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from xuncha.briefing.model import Briefing, Chart

T = TypeVar("T")

# Fonts for the chart pictures: the Noto CJK fonts Debian's fonts-noto-cjk installs first,
# then what a Windows or macOS machine would have.
CJK_FONT_FAMILY = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    '"WenQuanYi Micro Hei", sans-serif'
)
# A 900 px wide chart is printed 15.5 cm wide (about 0.5 pt a pixel): Plotly's default 12 px
# text would be 6 pt on paper. Smaller base sizes are raised to this (about 7 pt printed);
# more would squeeze the plot area of charts with long category labels.
PRINT_FONT_PX = 14
CHART_SCALE = 2  # device pixels per layout pixel: 900 px wide → 1800 px, sharp when printed
CHART_TIMEOUT_S = 30.0
BROWSER_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")

NOTE_NO_CHARTS = "（本机无法生成图表图片，本简报仅含表格。）"
NOTE_SOME_CHARTS = "（有 {n} 幅图表未能生成图片，已略去，相关数据见表格。）"


class ChartRenderError(RuntimeError):
    """A chart could not be drawn. ``fatal`` means no chart can be drawn in this process."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


def charts_in_order(briefing: Briefing) -> list[Chart]:
    return [b for s in briefing.sections for b in s.blocks if isinstance(b, Chart)]


def find_browser() -> str | None:
    """Chromium for kaleido: $BROWSER_PATH (kaleido's own variable) or Debian's package."""
    configured = os.environ.get("BROWSER_PATH")
    candidates = (configured,) if configured else BROWSER_CANDIDATES
    for name in candidates:
        path = name if os.path.isabs(name) else shutil.which(name)
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def prepare_figure(chart: Chart) -> dict[str, Any]:
    """The chart's figure rebuilt through Plotly (so invalid JSON fails here, not in the
    browser), with a CJK font family, text large enough to read when printed, a white
    background and the chart's size."""
    import plotly.graph_objects as go

    try:
        fig = go.Figure(copy.deepcopy(chart.figure))
    except (ValueError, TypeError) as exc:
        raise ChartRenderError(f"图表数据无效：{exc}") from exc
    family = fig.layout.font.family
    if not family:
        family = CJK_FONT_FAMILY
    elif "CJK" not in family:
        family = f"{family}, {CJK_FONT_FAMILY}"
    size = fig.layout.font.size or fig.layout.template.layout.font.size or 12
    fig.update_layout(
        font_family=family,
        font_size=max(size, PRINT_FONT_PX),
        width=chart.width_px,
        height=chart.height_px,
    )
    if fig.layout.paper_bgcolor is None:
        fig.update_layout(paper_bgcolor="white")
    figure: dict[str, Any] = fig.to_dict()
    return figure


def _call_with_timeout(fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn`` in a daemon thread and wait at most ``timeout`` seconds. A call that times
    out is abandoned (a daemon thread never holds up the interpreter's exit)."""
    result: list[T] = []
    error: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as exc:
            error.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="xuncha-chart-render", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"超过 {timeout:.0f} 秒仍未完成")
    if error:
        raise error[0]
    return result[0]


class _KaleidoServer:
    """kaleido's sync server is one per process (a module-level singleton in kaleido), so its
    state is kept once here too, whatever ``ChartRenderer`` asks for pictures."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = False
        self.broken: str | None = None


_SERVER = _KaleidoServer()


class ChartRenderer:
    """Draws charts with kaleido's process-wide sync server (one Chromium for the process).

    Thread-safe: calls are serialised by a process-wide lock (kaleido's sync server answers
    through shared queues, so two calls at once could receive each other's picture). The
    server starts on the first call, with this renderer's browser. After a time-out no
    renderer uses the server again in this process: an abandoned call could still answer and
    hand its picture to the next caller.
    """

    def __init__(self, browser_path: str | None = None, *, timeout: float = CHART_TIMEOUT_S):
        self._browser_path = browser_path
        self._timeout = timeout
        self._broken: str | None = None

    @property
    def unavailable_reason(self) -> str | None:
        """Why this renderer cannot draw charts in this process, or None while it may."""
        return self._broken or _SERVER.broken

    def _browser(self) -> str:
        path = self._browser_path or find_browser()
        if path is None or not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise ChartRenderError("本机未安装 Chromium 浏览器", fatal=True)
        return path

    def _start(self, path: str) -> None:
        try:
            import kaleido
        except ImportError as exc:  # pragma: no cover - kaleido is a dependency
            raise ChartRenderError("未安装 kaleido", fatal=True) from exc
        # mathjax=False: the default loads MathJax from the network, which is not reachable.
        kaleido.start_sync_server(
            path=path, mathjax=False, timeout=self._timeout, silence_warnings=True
        )
        _SERVER.started = True

    def png(self, chart: Chart) -> bytes:
        if self._broken is not None:
            raise ChartRenderError(self._broken, fatal=True)
        try:
            path = self._browser()
        except ChartRenderError as exc:
            self._broken = str(exc)
            raise
        figure = prepare_figure(chart)
        with _SERVER.lock:
            if _SERVER.broken is not None:
                raise ChartRenderError(_SERVER.broken, fatal=True)
            try:
                if not _SERVER.started:
                    self._start(path)
                data = _call_with_timeout(lambda: _kaleido_png(figure, chart), self._timeout)
            except ChartRenderError as exc:
                if exc.fatal:
                    _SERVER.broken = str(exc)
                raise
            except TimeoutError as exc:
                # The server may be stuck on this call (or never started): it answers calls in
                # order, so every later call would wait behind it. Give up for this process.
                _SERVER.broken = f"图表生成超时（{exc}）"
                raise ChartRenderError(_SERVER.broken, fatal=True) from exc
            except Exception as exc:
                name = type(exc).__name__
                if "Chrome" in name or "Browser" in name or "Channel" in name:
                    _SERVER.broken = f"浏览器无法启动或已退出（{name}）"
                    raise ChartRenderError(_SERVER.broken, fatal=True) from exc
                raise ChartRenderError(f"图表生成失败（{name}：{exc}）") from exc
        if not isinstance(data, bytes) or not data.startswith(b"\x89PNG"):
            raise ChartRenderError("图表生成结果不是 PNG 图片")
        return data


def _kaleido_png(figure: dict[str, Any], chart: Chart) -> bytes:
    import kaleido

    opts = {
        "format": "png",
        "width": chart.width_px,
        "height": chart.height_px,
        "scale": CHART_SCALE,
    }
    data: bytes = kaleido.calc_fig_sync(figure, opts=opts)
    return data


RENDERER = ChartRenderer()


def chart_png(chart: Chart, *, renderer: ChartRenderer | None = None) -> bytes:
    return (renderer or RENDERER).png(chart)


def render_charts(
    briefing: Briefing, *, renderer: ChartRenderer | None = None
) -> tuple[dict[int, bytes], str | None]:
    """PNG bytes for each chart index that could be drawn, and a note when any could not."""
    charts = charts_in_order(briefing)
    images: dict[int, bytes] = {}
    for i, chart in enumerate(charts):
        try:
            images[i] = chart_png(chart, renderer=renderer)
        except ChartRenderError as exc:
            if exc.fatal:
                break
    missing = len(charts) - len(images)
    if not missing:
        return images, None
    if not images:
        return {}, NOTE_NO_CHARTS
    return images, NOTE_SOME_CHARTS.format(n=missing)


# -- print previews: LibreOffice and poppler ------------------------------------------------


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def libreoffice_available() -> bool:
    return _soffice() is not None


def pdftoppm_available() -> bool:
    return shutil.which("pdftoppm") is not None


def _run(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> bool:
    """Run ``cmd`` in its own process group; on time-out end that group (ours alone)."""
    with subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    ) as proc:
        try:
            return proc.wait(timeout=timeout) == 0
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return False


def docx_to_pdf(
    docx: bytes | Path | str, out_dir: Path | str, *, timeout: float = 120.0
) -> Path | None:
    """Convert a .docx (bytes or a file) to PDF in ``out_dir``; the PDF's path, or None."""
    soffice = _soffice()
    if soffice is None:
        return None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xuncha-lo-") as work:
        if isinstance(docx, bytes):
            source = Path(work) / "briefing.docx"
            source.write_bytes(docx)
        else:
            source = Path(docx)
        profile = Path(work) / "profile"
        _write_font_substitutions(profile)
        env = dict(os.environ)
        env.setdefault("HOME", work)
        cmd = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--nodefault",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(source),
        ]
        ok = _run(cmd, timeout, env)
    pdf = out / (source.stem + ".pdf")
    return pdf if ok and pdf.is_file() and pdf.stat().st_size > 0 else None


def docx_bytes_to_pdf(docx: bytes, *, timeout: float = 120.0) -> bytes | None:
    """The PDF of a .docx given as bytes, or None (see ``docx_to_pdf``)."""
    with tempfile.TemporaryDirectory(prefix="xuncha-pdf-") as out:
        pdf = docx_to_pdf(docx, out, timeout=timeout)
        return pdf.read_bytes() if pdf is not None else None


# The official fonts (方正小标宋简体, 仿宋_GB2312, 楷体_GB2312, 黑体) are rarely installed on a
# Linux machine. For the preview, LibreOffice's replacement table maps them onto the Noto CJK
# fonts of Debian's fonts-noto-cjk (serif for 宋/仿宋/楷, sans for 黑体); Word on the users'
# machines uses the real fonts named in the document.
_FONT_SUBSTITUTES = {
    "方正小标宋简体": "Noto Serif CJK SC",
    "方正小标宋_GBK": "Noto Serif CJK SC",
    "仿宋_GB2312": "Noto Serif CJK SC",
    "仿宋": "Noto Serif CJK SC",
    "楷体_GB2312": "Noto Serif CJK SC",
    "楷体": "Noto Serif CJK SC",
    "宋体": "Noto Serif CJK SC",
    "黑体": "Noto Sans CJK SC",
}


def _write_font_substitutions(profile: Path) -> None:
    """Seed the private LibreOffice profile with a font replacement table (Tools → Options →
    Fonts in the user interface)."""
    from xml.sax.saxutils import escape

    def prop(name: str, value: str) -> str:
        return f'<prop oor:name="{name}" oor:op="fuse"><value>{escape(value)}</value></prop>'

    base = "/org.openoffice.Office.Common/Font/Substitution"
    items = [f'<item oor:path="{base}">{prop("Replacement", "true")}</item>']
    for i, (font, substitute) in enumerate(_FONT_SUBSTITUTES.items()):
        items.append(
            f'<item oor:path="{base}/FontPairs"><node oor:name="_{i}" oor:op="replace">'
            + prop("Always", "true")
            + prop("OnScreenOnly", "false")
            + prop("ReplaceFont", font)
            + prop("SubstituteFont", substitute)
            + "</node></item>"
        )
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        + "\n".join(items)
        + "\n</oor:items>\n",
        encoding="utf-8",
    )


def pdf_to_png(
    pdf: Path | str,
    out_dir: Path | str,
    first_page: int = 1,
    last_page: int = 2,
    dpi: int = 80,
    *,
    timeout: float = 60.0,
) -> list[Path]:
    """PNG pictures of pages ``first_page``..``last_page`` (fewer if the PDF is shorter)."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None or not Path(pdf).is_file():
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / Path(pdf).stem
    cmd = [
        pdftoppm,
        "-png",
        "-r",
        str(dpi),
        "-f",
        str(first_page),
        "-l",
        str(last_page),
        str(pdf),
        str(prefix),
    ]
    if not _run(cmd, timeout):
        return []
    # pdftoppm names pages prefix-1.png or prefix-01.png depending on the page count.
    pages = []
    for path in out.glob(f"{glob.escape(prefix.name)}-*.png"):
        number = path.stem.rsplit("-", 1)[-1]
        if number.isdigit() and first_page <= int(number) <= last_page:
            pages.append((int(number), path))
    return [p for _, p in sorted(pages)]
