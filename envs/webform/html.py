"""Render a :class:`~envs.webform.form.Form` to one self-contained HTML page.

The page needs nothing from the network: inline CSS and JavaScript only. Validation is the
browser's own constraint validation: each rule of ``dom.field_error`` is an HTML attribute
(``required``; ``pattern`` on text inputs; ``min``/``max`` with ``step="any"`` on number
inputs; ``required`` on every radio of a required group and a ``""`` placeholder option on
selects), and the form is submitted without ``novalidate``, so Chromium's interactive
validation decides whether "Submit" submits. Every rule the simulator has is expressible
this way; no rule is copied into JavaScript. Two details make the attributes say exactly
the simulator's rules: ``step="any"`` (HTML's default step of 1 would add a rule the
simulator lacks: 2.5 in [1, 20] is valid there), and patterns written for the ``v`` flag
Chromium compiles them with (``vocabulary.Concept``). The Email concept keeps its
``pattern`` on a text input rather than ``type=email``: its rule is "one @ with text on
both sides", and ``type=email`` would apply the HTML standard's stricter address grammar
and strip surrounding whitespace, neither of which the simulator does.

The script is only what HTML has no element for: a multi-page form. "Next" asks each
control of the visible page ``checkValidity()`` and shows the next page when all pass; the
browser's ``invalid`` events (from those calls and from the submit's own validation) mark
a row ``data-error="1"``, which is the snapshot of the last validation the simulator's
``errors`` are; the submit handler records the submitted values in ``window.__submitted``
and in ``<pre id="tb-submitted">``.

Widgets (``widgets=True``) bring their own script, written for this page rather than taken
from jQuery UI (the page loads nothing): an autocomplete's items travel JSON-encoded in a
``data-source`` attribute, and typing shows the matching items as ``li`` suggestions; a date
picker is a read-only input whose click shows a calendar (Prev, Next, a title, one link per
day); both lists are built inside the page's ``.tb-overlay`` box, after its own elements,
and close on any mousedown, focus, input or change outside them and their own input (a
blur's change event of that input must not close the list being clicked). The box keeps a
fixed height, open or closed: closing it on a mousedown must not shorten a page scrolled to
its bottom, or the element under the pointer would move before the click lands. A leaving
link records ``window.__left`` instead of navigating (a navigation would be a blocked
request). Validation stays the browser's: a password, textarea or autocomplete carries
``required`` like a text input; a date picker is never required (HTML's constraint
validation skips read-only inputs, ``form.py`` draws it without rules), and the results
page's rows are ``<output>`` elements, which constraint validation does not look at (each
keeps a minimum size: an empty row is still a visible box a pointer can reach). A
review flow's Submit is still the form's submission, validated by the browser; its submit
handler fills the results page's rows and shows that page instead of recording the
values; Back shows the previous page; Confirm records the submission.

Every text from a form (labels, keys, values, options, prefilled values, patterns) goes
through :func:`html.escape` with ``quote=True``: instructed values may be hostile
(``</script><img onerror=...>``) and must reach the page, and the browser, as text.
"""

from __future__ import annotations

import json
from html import escape

from envs.webform import vocabulary as voc
from envs.webform.form import MAX_SUGGESTIONS, Element, Form

_STYLE = """
body{font-family:sans-serif;max-width:40em;margin:1em auto}
#tb-instruction{background:#eef;padding:.5em;margin-bottom:1em}
.tb-row{margin:.4em 0}
.tb-row label{margin-right:.4em}
[data-error="1"]{outline:2px solid #c00}
.tb-req{color:#c00}
.tb-overlay{height:18em}
.tb-overlay ul{list-style:none;padding:0;margin:0;border:1px solid #999;width:12em}
.tb-overlay li{cursor:pointer;padding:1px 4px}
.tb-calendar{border:1px solid #999;width:16em}
.tb-calendar a{display:inline-block;cursor:pointer;padding:1px 4px}
.tb-calendar a[data-kind=day]{width:1.8em;text-align:right}
output[data-kind=summary]{display:inline-block;min-width:6em;min-height:1.2em;border-bottom:1px solid #999}
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
  function clearErrors(page) {
    page.querySelectorAll("[data-tb-value]").forEach(function (el) { el.setAttribute("data-error", "0"); });
  }
  // The browser fires "invalid" at every control that fails its constraints.
  form.addEventListener("invalid", function (ev) {
    var row = ev.target.closest("[data-tb-value]");
    if (row) { row.setAttribute("data-error", "1"); }
  }, true);
  form.querySelectorAll("[data-kind=next]").forEach(function (button) {
    button.addEventListener("click", function () {
      var all = pages(), p = current(), ok = true;
      clearErrors(all[p]);
      all[p].querySelectorAll("input, select, textarea").forEach(function (c) { ok = c.checkValidity() && ok; });
      if (ok && p + 1 < all.length) {
        all[p].hidden = true;
        all[p + 1].hidden = false;
      }
    });
  });
  // Submit: clear the page's marks; the browser then validates the form itself and fires
  // "submit" only when every control is valid.
  form.querySelectorAll("[data-kind=submit]").forEach(function (button) {
    button.addEventListener("click", function () { clearErrors(pages()[current()]); });
  });
  form.querySelectorAll("a[data-kind=link]").forEach(function (a) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); });
  });
  function submitNow() {
    window.__submitted = values();
    document.getElementById("tb-submitted").textContent = JSON.stringify(window.__submitted);
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (window.__submitted) { return; }
    if (form.hasAttribute("data-review")) {  // the browser has validated: show the results page
      var all = pages(), p = current();
      all[p + 1].querySelectorAll("output[data-kind=summary]").forEach(function (row) {
        row.textContent = valueOf(document.getElementById(row.getAttribute("data-ref")));
      });
      all[p].hidden = true;
      all[p + 1].hidden = false;
      return;
    }
    submitNow();
  });
  // -- widgets and flows (widgets=True) --------------------------------------------------
  var overlay = null;
  function closeOverlay() {
    form.querySelectorAll(".tb-overlay").forEach(function (box) { box.textContent = ""; });
    overlay = null;
  }
  function outside(ev) {
    if (!overlay) { return; }
    var t = ev.target;
    if (t.closest && t.closest(".tb-overlay")) { return; }
    if (t === overlay) {  // its own widget: only typing into it again redraws the list
      if (ev.type === "input") { closeOverlay(); }
      return;
    }
    closeOverlay();
  }
  ["mousedown", "focusin", "input", "change"].forEach(function (type) {
    document.addEventListener(type, outside, true);
  });
  function item(tag, kind, text, act) {
    var el = document.createElement(tag);
    el.setAttribute("data-tb-el", "");
    el.setAttribute("data-kind", kind);
    el.textContent = text;
    el.addEventListener("click", function (ev) { ev.preventDefault(); act(); });
    return el;
  }
  function boxOf(input) { return input.closest(".tb-page").querySelector(".tb-overlay"); }
  function suggest(input) {
    closeOverlay();
    var term = input.value.toLowerCase();
    if (!term) { return; }
    var hits = JSON.parse(input.getAttribute("data-source")).filter(function (s) {
      return s.toLowerCase().startsWith(term);
    }).slice(0, MAX_SUGGESTIONS);
    if (!hits.length) { return; }
    var ul = document.createElement("ul");
    hits.forEach(function (h) {
      ul.appendChild(item("li", "suggestion", h, function () { input.value = h; closeOverlay(); }));
    });
    boxOf(input).appendChild(ul);
    overlay = input;
  }
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function showMonth(input, month) {
    closeOverlay();
    var first = Number(input.getAttribute("data-first")), last = Number(input.getAttribute("data-last"));
    var year = Math.floor(month / 12), m = month % 12;
    var cal = document.createElement("div");
    cal.className = "tb-calendar";
    cal.appendChild(item("a", "prev_month", "Prev", function () {
      if (month > first) { showMonth(input, month - 1); }  // disabled at the first month
    }));
    cal.appendChild(item("a", "next_month", "Next", function () {
      if (month < last) { showMonth(input, month + 1); }
    }));
    var title = document.createElement("span");
    title.textContent = MONTHS[m] + " " + year;
    cal.appendChild(title);
    var n = new Date(Date.UTC(year, m + 1, 0)).getUTCDate();
    for (var d = 1; d <= n; d++) {
      cal.appendChild(item("a", "day", String(d), (function (day) {
        return function () { input.value = two(m + 1) + "/" + two(day) + "/" + year; closeOverlay(); };
      })(d)));
    }
    boxOf(input).appendChild(cal);
    overlay = input;
  }
  function monthOf(v) {
    var r = /^([0-9]{2})\/([0-9]{2})\/([0-9]{4})$/.exec(v);
    return r ? Number(r[3]) * 12 + Number(r[1]) - 1 : -1;
  }
  form.querySelectorAll("input[data-kind=autocomplete]").forEach(function (input) {
    input.addEventListener("input", function () { suggest(input); });
  });
  form.querySelectorAll("input[data-kind=datepicker]").forEach(function (input) {
    input.addEventListener("click", function () {
      if (overlay === input) { return; }
      var month = monthOf(input.value);
      var first = Number(input.getAttribute("data-first")), last = Number(input.getAttribute("data-last"));
      var opening = Number(input.getAttribute("data-opening"));
      showMonth(input, month >= 0 ? Math.min(Math.max(month, first), last) : opening);
    });
  });
  form.querySelectorAll("a[data-kind=exit]").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      if (!window.__left) { window.__left = a.id; }
    });
  });
  form.querySelectorAll("button[data-kind=back]").forEach(function (button) {
    button.addEventListener("click", function () {
      var all = pages(), p = current();
      if (p > 0) { all[p].hidden = true; all[p - 1].hidden = false; }
    });
  });
  form.querySelectorAll("button[data-kind=confirm]").forEach(function (button) {
    button.addEventListener("click", function () { if (!window.__submitted) { submitNow(); } });
  });
  window.__tb = { values: values, page: current };
})();
"""


def _attrs(e: Element) -> str:
    """Identity and constraint-validation attributes of a value-holding control (a radio
    group's ``required`` goes on its radios, see :func:`render_element`)."""
    out = [f'id="{escape(e.name)}"', f'data-kind="{e.kind}"', "data-tb-el", "data-tb-value", 'data-error="0"']
    if e.required and e.kind != "radio":
        out.append("required")
    if e.pattern:
        out.append(f'pattern="{escape(e.pattern, quote=True)}"')
    if e.low is not None and e.high is not None:
        out.append(f'min="{e.low:g}" max="{e.high:g}" step="any"')
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
        required = " required" if e.required else ""
        for k, option in enumerate(e.options):
            checked = " checked" if option == e.initial else ""
            radios.append(f'<label><input type="radio" name="{name}" id="{name}-{k}" value="{escape(option)}"'
                          f'{checked}{required}> {escape(option)}</label>')
        inner = f'<fieldset {_attrs(e)}><legend>{_label(e, None)}</legend>{"".join(radios)}</fieldset>'
    elif e.kind == "checkbox":
        checked = " checked" if e.initial == voc.YES else ""
        inner = f'<input type="checkbox" name="{name}"{checked} {_attrs(e)}>{_label(e, e.name)}'
    elif e.kind == "password":
        inner = (f'{_label(e, e.name)}<input type="password" name="{name}" value="{escape(e.initial)}" '
                 f'autocomplete="off" {_attrs(e)}>')
    elif e.kind == "textarea":
        inner = f'{_label(e, e.name)}<textarea name="{name}" rows="3" {_attrs(e)}>{escape(e.initial)}</textarea>'
    elif e.kind == "autocomplete":
        source = escape(json.dumps(list(e.source), ensure_ascii=False), quote=True)
        inner = (f'{_label(e, e.name)}<input type="text" name="{name}" value="{escape(e.initial)}" '
                 f'autocomplete="off" data-source="{source}" {_attrs(e)}>')
    elif e.kind == "datepicker":
        first, opening, last = e.calendar
        inner = (f'{_label(e, e.name)}<input type="text" readonly name="{name}" value="{escape(e.initial)}" '
                 f'autocomplete="off" data-first="{first}" data-opening="{opening}" data-last="{last}" {_attrs(e)}>')
    elif e.kind == "link":
        inner = f'<a href="#" id="{name}" data-kind="link" data-tb-el>{escape(e.label)}</a>'
    elif e.kind == "exit":  # would leave the page; the script records it instead
        inner = f'<a href="https://example.invalid/" id="{name}" data-kind="exit" data-tb-el>{escape(e.label)}</a>'
    elif e.kind == "summary":
        inner = (f'<span class="tb-summary">{escape(e.label)}</span>: '
                 f'<output id="{name}" data-kind="summary" data-ref="{escape(e.ref)}" data-tb-el></output>')
    elif e.kind in ("button", "next", "back", "confirm"):
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
        if any(e.kind in ("autocomplete", "datepicker") for e in page):
            body += '<div class="tb-overlay"></div>'  # the open suggestion list / calendar goes here
        pages.append(f'<div class="tb-page" data-page="{p}"{hidden}>{body}</div>')
    review = " data-review" if form.review else ""
    script = _SCRIPT.replace("MAX_SUGGESTIONS", str(MAX_SUGGESTIONS)).replace(
        "MONTHS", json.dumps(list(voc.MONTH_NAMES)))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>TeachBench form</title>'
        f"<style>{_STYLE}</style></head><body>"
        f'<div id="tb-instruction"><p>Fill in the form with the values below, then submit.</p><ol>{items}</ol></div>'
        f'<form id="tb-form" autocomplete="off"{review}>{"".join(pages)}</form>'
        f'<pre id="tb-submitted"></pre><script>{script}</script></body></html>\n'
    )
