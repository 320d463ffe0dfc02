/* Chinese for the built-in texts of Streamlit's and plotly's frontend (xuncha/ui/chinese.py).
 *
 * The table (exact strings and a few patterns) comes from Python as the one argument of this
 * function. Only whole strings are replaced: a text node, or a title / aria-label /
 * placeholder / data-title attribute whose whole (trimmed) value is a known chrome string.
 * Content the product or the user wrote (Markdown, code, table cells, inputs' values) is
 * never touched. A MutationObserver keeps translating as Streamlit re-renders; running the
 * script again only refreshes the table. */
(function (table) {
  "use strict";
  var w = window;
  if (w.__xunchaZh) {
    w.__xunchaZh.load(table);
    return;
  }
  var ATTRS = ["title", "aria-label", "placeholder", "data-title", "aria-placeholder"];
  // Containers of written content: never translated, whatever their text.
  // (A widget's own label is Markdown too: a button's, such as the file uploader's, is not
  // skipped.)
  var SKIP =
    '[data-testid="stMarkdownContainer"]:not(button *), [data-testid="stCode"],' +
    ' [data-testid="stJson"], [data-testid="stTable"] tbody, pre, code, textarea, script, style';
  // Streamlit's own controls inside written content: a heading's anchor link.
  var CHROME_IN_WRITTEN = '[data-testid="stHeaderActionElements"]';
  // What is typed (an editable field's text) is the user's; its labels are not.
  var SKIP_TEXT = SKIP + ', [contenteditable="true"]';
  var texts = new Map();
  var patterns = [];
  var kinds = new Map(); // a column's kind, in the title of the column menu's type icon
  var COLUMN_MENU = '[data-testid="stDataFrameColumnMenu"]';

  function load(t) {
    texts = new Map(Object.entries(t.texts || {}));
    kinds = new Map(Object.entries(t.kinds || {}));
    patterns = (t.patterns || []).map(function (p) {
      return [new RegExp(p[0]), p[1]];
    });
  }

  function translated(value) {
    var key = value.trim();
    if (!key) return null;
    var out = texts.get(key);
    if (out === undefined) {
      for (var i = 0; i < patterns.length; i++) {
        if (patterns[i][0].test(key)) {
          out = key.replace(patterns[i][0], patterns[i][1]);
          break;
        }
      }
    }
    if (out === undefined || out === key) return null;
    return value.replace(key, function () {
      return out;
    });
  }

  function skipped(el, selector) {
    if (el !== null && el.closest(CHROME_IN_WRITTEN) !== null) return false;
    return el !== null && el.closest(selector || SKIP) !== null;
  }

  function fixAttributes(el) {
    for (var i = 0; i < ATTRS.length; i++) {
      var v = el.getAttribute(ATTRS[i]);
      if (v) {
        var t = translated(v);
        if (t === null && ATTRS[i] === "title" && kinds.has(v) && el.closest(COLUMN_MENU)) {
          t = kinds.get(v);
        }
        if (t !== null) el.setAttribute(ATTRS[i], t);
      }
    }
  }

  function fixText(node) {
    if (skipped(node.parentElement, SKIP_TEXT)) return;
    var t = translated(node.nodeValue || "");
    if (t !== null) node.nodeValue = t;
  }

  function fix(node) {
    if (node.nodeType === 3) {
      fixText(node);
      return;
    }
    if (node.nodeType !== 1) return;
    var chrome = node.querySelectorAll(CHROME_IN_WRITTEN + " *");
    for (var k = 0; k < chrome.length; k++) fixAttributes(chrome[k]);
    if (skipped(node)) return;
    fixAttributes(node);
    var walker = document.createTreeWalker(node, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
      acceptNode: function (n) {
        if (n.nodeType === 1 && n.matches(SKIP)) return NodeFilter.FILTER_REJECT;
        return NodeFilter.FILTER_ACCEPT;
      },
    });
    var n = walker.nextNode();
    while (n) {
      if (n.nodeType === 3) {
        fixText(n);
      } else {
        fixAttributes(n);
      }
      n = walker.nextNode();
    }
  }

  load(table);
  var observer = new MutationObserver(function (records) {
    for (var i = 0; i < records.length; i++) {
      var r = records[i];
      if (r.type === "childList") {
        for (var j = 0; j < r.addedNodes.length; j++) fix(r.addedNodes[j]);
      } else if (r.type === "characterData") {
        fixText(r.target);
      } else if (r.type === "attributes" && !skipped(r.target)) {
        fixAttributes(r.target);
      }
    }
  });
  observer.observe(document.documentElement, {
    childList: true,
    subtree: true,
    characterData: true,
    attributes: true,
    attributeFilter: ATTRS,
  });
  fix(document.body);
  w.__xunchaZh = {
    load: function (t) {
      load(t);
      fix(document.body);
    },
    translated: translated,
  };
})(__ZH_TABLE__);
