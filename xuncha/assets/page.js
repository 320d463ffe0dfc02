// 巡察数据驾驶舱: the page's own script, injected with the stylesheet (xuncha/ui/style.py).
// Runs once per browser tab, whatever the reruns: Streamlit keeps the document.
(() => {
  if (window.__xunchaPage) return;
  window.__xunchaPage = true;

  // A4 landscape less 10 mm margins, in CSS pixels (277 mm at 96 px per inch).
  const PAPER_WIDTH = (277 * 96) / 25.4;
  const TABLET = 1024;

  const sidebar = () => document.querySelector('[data-testid="stSidebar"]');
  const expanded = () => sidebar()?.getAttribute("data-collapsed") === "false";
  const collapse = () => {
    const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (!button || !expanded()) return false;
    // Streamlit stores a click as the user's own choice for every later visit at any width;
    // this one is the layout's, not the user's: the stored choices are put back as they were
    // (a choice the user made on a desktop is kept).
    const PREFIX = "stSidebarCollapsed-";
    const saved = new Map();
    for (const key of Object.keys(window.localStorage)) {
      if (key.startsWith(PREFIX)) saved.set(key, window.localStorage.getItem(key));
    }
    const restore = () => {
      for (const key of Object.keys(window.localStorage)) {
        if (!key.startsWith(PREFIX)) continue;
        if (saved.has(key)) window.localStorage.setItem(key, saved.get(key));
        else window.localStorage.removeItem(key);
      }
    };
    button.click();
    restore();
    window.setTimeout(restore, 100); // in case the choice is stored after the click's render
    return true;
  };

  // On a tablet the filters are a drawer: closed on first load (Streamlit's "auto" closes
  // the sidebar only under 768 px), and closed again once a page is chosen in it.
  if (window.innerWidth < TABLET) {
    let tries = 0;
    const timer = window.setInterval(() => {
      tries += 1;
      if (sidebar() && (collapse() || !expanded())) window.clearInterval(timer);
      if (tries > 150) window.clearInterval(timer);
    }, 100);
  }
  document.addEventListener(
    "click",
    (event) => {
      const link = event.target instanceof Element && event.target.closest('[data-testid="stSidebarNavLink"]');
      if (link && window.innerWidth < TABLET) window.setTimeout(collapse, 300);
    },
    true,
  );

  // Print: the main block is printed at its screen width, scaled to the paper's width
  // (style.css reads the two variables under @media print).
  const printing = window.matchMedia("print");
  const measure = () => {
    if (printing.matches) return;
    const main = document.querySelector('[data-testid="stMainBlockContainer"]');
    if (!main) return;
    const width = main.getBoundingClientRect().width;
    if (!width) return;
    const root = document.documentElement.style;
    root.setProperty("--xc-print-width", `${Math.round(width)}px`);
    root.setProperty("--xc-print-zoom", String(Math.min(1, PAPER_WIDTH / width)));
  };
  measure();
  window.addEventListener("resize", measure);
  window.addEventListener("beforeprint", measure);
  window.setInterval(measure, 1000);
})();
