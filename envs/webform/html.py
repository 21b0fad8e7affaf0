"""Render a :class:`~envs.webform.form.Form` to one self-contained HTML page.

The page needs nothing from the network: inline CSS and JavaScript only. Its script is the
browser side of the simulator's contract (``dom.py``): "Next" validates the visible page
and shows the next one, the form's submit handler validates the last page and records the
submitted values in ``window.__submitted`` and in ``<pre id="tb-submitted">``. Validation
rules travel as ``data-`` attributes rather than as JSON inside ``<script>``, so no value
ever has to be escaped for a script context.

Every text from a form (labels, keys, values, options, prefilled values) goes through
:func:`html.escape` with ``quote=True``: instructed values may be hostile
(``</script><img onerror=...>``) and must reach the page, and the browser, as text.
"""

from __future__ import annotations

from html import escape

from envs.webform import vocabulary as voc
from envs.webform.form import Element, Form

_STYLE = """
body{font-family:sans-serif;max-width:40em;margin:1em auto}
#tb-instruction{background:#eef;padding:.5em;margin-bottom:1em}
.tb-row{margin:.4em 0}
.tb-row label{margin-right:.4em}
[data-error="1"]{outline:2px solid #c00}
.tb-req{color:#c00}
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var form = document.getElementById("tb-form");
  function pages() { return Array.prototype.slice.call(form.querySelectorAll(".tb-page")); }
  function current() { return pages().findIndex(function (p) { return !p.hidden; }); }
  function valueOf(el) {
    var kind = el.getAttribute("data-kind");
    if (kind === "checkbox") { return el.checked ? "yes" : "no"; }
    if (kind === "radio") {
      var c = el.querySelector("input[type=radio]:checked");
      return c ? c.value : "";
    }
    return el.value;
  }
  function values() {
    var out = {};
    form.querySelectorAll("[data-tb-value]").forEach(function (el) { out[el.id] = valueOf(el); });
    return out;
  }
  function errors() {
    var out = {};
    form.querySelectorAll("[data-tb-value]").forEach(function (el) {
      out[el.id] = el.getAttribute("data-error") === "1";
    });
    return out;
  }
  function hasError(el, v) {
    if (el.hasAttribute("data-required") && v === "") { return true; }
    if (v === "") { return false; }
    var pattern = el.getAttribute("data-pattern");
    if (pattern && !(new RegExp(pattern)).test(v)) { return true; }
    if (el.hasAttribute("data-low")) {
      var n = Number(v);
      if (isNaN(n)) { return true; }
      return n < Number(el.getAttribute("data-low")) || n > Number(el.getAttribute("data-high"));
    }
    return false;
  }
  function validate(page) {
    var ok = true;
    page.querySelectorAll("[data-tb-value]").forEach(function (el) {
      var bad = hasError(el, valueOf(el));
      el.setAttribute("data-error", bad ? "1" : "0");
      if (bad) { ok = false; }
    });
    return ok;
  }
  form.querySelectorAll("[data-kind=next]").forEach(function (button) {
    button.addEventListener("click", function () {
      var all = pages(), p = current();
      if (validate(all[p]) && p + 1 < all.length) {
        all[p].hidden = true;
        all[p + 1].hidden = false;
      }
    });
  });
  form.querySelectorAll("a[data-kind=link]").forEach(function (a) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); });
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (window.__submitted) { return; }
    var all = pages();
    if (!validate(all[current()])) { return; }
    window.__submitted = values();
    document.getElementById("tb-submitted").textContent = JSON.stringify(window.__submitted);
  });
  window.__tb = { values: values, errors: errors, page: current };
})();
"""


def _attrs(e: Element) -> str:
    """Identity and validation attributes of a value-holding control."""
    out = [f'id="{escape(e.name)}"', f'data-kind="{e.kind}"', "data-tb-el", "data-tb-value"]
    if e.required:
        out.append("data-required")
    if e.pattern:
        out.append(f'data-pattern="{escape(e.pattern, quote=True)}"')
    if e.low is not None and e.high is not None:
        out.append(f'data-low="{e.low:g}" data-high="{e.high:g}"')
    return " ".join(out)


def _label(e: Element, target: str | None) -> str:
    star = '<span class="tb-req">*</span>' if e.required else ""
    text = escape(e.label) + star
    return f'<label for="{escape(target)}">{text}</label>' if target else text


def render_element(e: Element) -> str:
    """One element as HTML (inside a ``div.tb-row``)."""
    name = escape(e.name)
    if e.kind in ("text", "number", "date"):
        inner = (f'{_label(e, e.name)}<input type="{e.kind}" name="{name}" value="{escape(e.initial)}" '
                 f'autocomplete="off" {_attrs(e)}>')
    elif e.kind == "select":
        options = ['<option value="">-- choose --</option>']
        for option in e.options:
            selected = " selected" if option == e.initial else ""
            options.append(f'<option value="{escape(option)}"{selected}>{escape(option)}</option>')
        inner = f'{_label(e, e.name)}<select name="{name}" {_attrs(e)}>{"".join(options)}</select>'
    elif e.kind == "radio":
        radios = []
        for k, option in enumerate(e.options):
            checked = " checked" if option == e.initial else ""
            radios.append(f'<label><input type="radio" name="{name}" id="{name}-{k}" value="{escape(option)}"'
                          f'{checked}> {escape(option)}</label>')
        inner = f'<fieldset {_attrs(e)}><legend>{_label(e, None)}</legend>{"".join(radios)}</fieldset>'
    elif e.kind == "checkbox":
        checked = " checked" if e.initial == voc.YES else ""
        inner = f'<input type="checkbox" name="{name}"{checked} {_attrs(e)}>{_label(e, e.name)}'
    elif e.kind == "link":
        inner = f'<a href="#" id="{name}" data-kind="link" data-tb-el>{escape(e.label)}</a>'
    elif e.kind in ("button", "next"):
        inner = f'<button type="button" id="{name}" data-kind="{e.kind}" data-tb-el>{escape(e.label)}</button>'
    elif e.kind == "submit":
        inner = f'<button type="submit" id="{name}" data-kind="submit" data-tb-el>{escape(e.label)}</button>'
    else:  # pragma: no cover - generate_form makes no other kinds
        raise ValueError(e.kind)
    return f'<div class="tb-row">{inner}</div>'


def render_html(form: Form) -> str:
    """The whole page: instruction, pages (all but the first hidden), script."""
    items = "".join(
        f'<li data-j="{j}"><span class="tb-key">{escape(k)}</span>: <span class="tb-value">{escape(v)}</span></li>'
        for j, (k, v) in enumerate(zip(form.keys, form.values))
    )
    pages = []
    for p, page in enumerate(form.pages):
        hidden = " hidden" if p else ""
        body = "".join(render_element(e) for e in page)
        pages.append(f'<div class="tb-page" data-page="{p}"{hidden}>{body}</div>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>TeachBench form</title>'
        f"<style>{_STYLE}</style></head><body>"
        f'<div id="tb-instruction"><p>Fill in the form with the values below, then submit.</p><ol>{items}</ol></div>'
        f'<form id="tb-form" novalidate autocomplete="off">{"".join(pages)}</form>'
        f'<pre id="tb-submitted"></pre><script>{_SCRIPT}</script></body></html>\n'
    )
