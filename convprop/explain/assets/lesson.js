// The interactive figures of a convprop lesson: grids, a stepper, hover-to-explain and editable inputs.
//
// Everything this script knows comes from the lesson data that Python wrote into the page (lesson.py): the
// proved index structure of every result entry. Its arithmetic is only the sum of the listed products
// (convolution) and the routing rule the article states (pooling); it never re-implements a layer.
"use strict";
(function () {
  const source = document.getElementById("convprop-lesson");
  if (!source) return;
  const L = JSON.parse(source.textContent);
  const UI = L.ui;
  const T = L.tensors;
  const state = {};
  for (const t in T) {
    const n = T[t].shape.reduce((a, b) => a * b, 1);
    state[t] = T[t].values ? T[t].values.slice() : new Array(n).fill(0);
  }
  let winners = [];

  const value = (ref) => (ref.z ? 0 : state[ref.t][ref.i]);

  function compute() {
    if (L.kind === "conv") {
      for (const t in L.sums) {
        state[t] = L.sums[t].map((terms) => terms.reduce((s, [a, b]) => s + value(a) * value(b), 0));
      }
      return;
    }
    const P = L.pool, A = state.A, dB = state.dB;
    const B = [], dA = new Array(A.length).fill(0);
    winners = [];
    P.windows.forEach((win, k) => {
      if (P.kind === "max") {
        let w = win[0];
        for (const i of win) if (A[i] > A[w]) w = i; // strict: the first maximum wins ties, as in PyTorch
        winners[k] = w;
        B[k] = A[w];
        dA[w] += dB[k];
      } else {
        B[k] = win.reduce((s, i) => s + A[i], 0) / P.divisors[k];
        for (const i of win) dA[i] += dB[k] / P.divisors[k];
      }
    });
    state.B = B;
    state.dA = dA;
  }

  // ---- numbers and names ---------------------------------------------------

  function fmt(v) {
    if (Object.is(v, -0)) v = 0;
    if (Number.isInteger(v)) return String(v);
    if (Math.abs(v) < 1e-3) return String(parseFloat(v.toPrecision(3))); // 1e-9 stays visible, not "0"
    return String(parseFloat(v.toFixed(4)));
  }
  const factor = (v) => (v < 0 ? "(" + fmt(v) + ")" : fmt(v));
  const nameOf = (ref) => (ref.z ? "0" : T[ref.t].names[ref.i]);
  const zeroTitle = (z) => UI["zero_" + z];

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- cells ---------------------------------------------------------------

  const cellsOf = {}; // "t:i" -> every element showing that entry
  const shown = []; // [element, () => value] for every displayed number
  const key = (t, i) => t + ":" + i;

  function register(e, t, i) {
    (cellsOf[key(t, i)] = cellsOf[key(t, i)] || []).push(e);
  }

  function makeCell(cell, widget) {
    const e = el("div", { class: "cell" });
    if (cell.z) {
      e.classList.add("zero", cell.z);
      e.textContent = "0";
      e.title = zeroTitle(cell.z);
      return e;
    }
    if (cell.full !== undefined && cell.t === undefined) {
      e.classList.add("cropped");
      e.title = UI.cropped;
      shown.push([e, () => frameSum(widget.spec.frames[cell.full]), UI.cropped_cell]);
      return e;
    }
    const t = cell.t, i = cell.i, spec = T[t];
    e.dataset.tensor = t;
    e.dataset.index = spec.labels[i];
    register(e, t, i);
    if (cell.full !== undefined) e.classList.add("kept");
    if (spec.editable) {
      const input = el("input", { type: "text", inputmode: "decimal", "aria-label": spec.names[i], value: fmt(state[t][i]) });
      input.addEventListener("input", () => edit(t, i, input));
      input.addEventListener("focus", () => activateInput(t, i));
      e.appendChild(input);
    } else {
      e.tabIndex = 0;
      e.setAttribute("role", "button");
      shown.push([e, () => state[t][i], spec.names[i]]);
      e.addEventListener("mouseenter", () => activate(t, i, widget));
      e.addEventListener("focus", () => activate(t, i, widget));
      e.addEventListener("mouseleave", clearActive);
      e.addEventListener("blur", clearActive);
    }
    return e;
  }

  function refresh() {
    compute();
    for (const [e, get, name] of shown) {
      const v = get();
      e.textContent = fmt(v);
      e.dataset.value = String(v);
      e.setAttribute("aria-label", name + " = " + fmt(v));
    }
    for (const w of widgets) {
      const hovered = w.shows;
      showFrame(w, w.pos);
      if (hovered) {
        w.shows = hovered;
        showEquation(w, hoverEquation(hovered[0], hovered[1]));
      }
    }
  }

  // What a learner types: a minus sign for "-", a decimal comma, Arabic-Indic digits and separator.
  function parseNumber(text) {
    const ascii = text.trim().replace(/\u2212/g, "-").replace(/[\u0660-\u0669]/g, (d) => d.charCodeAt(0) - 0x660)
      .replace(/[\u06f0-\u06f9]/g, (d) => d.charCodeAt(0) - 0x6f0).replace(/[\u066b,]/g, ".");
    const v = Number(ascii);
    return ascii !== "" && Number.isFinite(v) ? v : null;
  }

  function edit(t, i, input) {
    const v = parseNumber(input.value);
    const ok = v !== null;
    input.setAttribute("aria-invalid", ok ? "false" : "true");
    if (!ok) {
      // the results keep the last number: say so where the equations are shown, instead of going stale silently
      const note = UI.invalid.replace("{name}", T[t].names[i]).replace("{text}", input.value).replace("{value}", fmt(state[t][i]));
      for (const w of widgets) if (w.root.contains(input)) showEquation(w, [{ note }]);
      return;
    }
    state[t][i] = v;
    for (const other of cellsOf[key(t, i)]) {
      const inp = other.querySelector("input");
      if (inp && inp !== input) inp.value = fmt(v);
    }
    refresh();
  }

  // ---- hover: which cells a result adds up ---------------------------------

  function contributors(t, i) {
    if (L.kind === "conv") return L.sums[t] ? L.sums[t][i].flat().filter((r) => !r.z) : [];
    const P = L.pool;
    if (t === "B") return P.windows[i].map((a) => ({ t: "A", i: a }));
    if (t === "dA") {
      const out = [];
      P.windows.forEach((win, k) => {
        if (P.kind === "max" ? winners[k] === i : win.includes(i)) out.push({ t: "dB", i: k });
      });
      return out;
    }
    return [];
  }

  function mark(t, i, attr) {
    for (const e of cellsOf[key(t, i)] || []) e.setAttribute(attr, "");
  }
  function clear(attr) {
    for (const e of document.querySelectorAll("[" + attr + "]")) e.removeAttribute(attr);
  }
  const clearActive = () => clear("data-active");

  function activate(t, i, widget) {
    clearActive();
    mark(t, i, "data-active");
    for (const r of contributors(t, i)) mark(r.t, r.i, "data-active");
    widget.shows = [t, i]; // the equation stays until the stepper moves, so its terms can be hovered
    showEquation(widget, hoverEquation(t, i));
  }

  function activateInput(t, i) {
    clearActive();
    mark(t, i, "data-active");
  }

  // ---- equations -----------------------------------------------------------

  // An equation is a list of parts: strings, or terms {a, b} (two factors) that light their cells on hover.
  function sumEquation(lhs, terms, total, note) {
    const parts = [lhs, " = "];
    if (!terms.length) parts.push("0");
    terms.forEach(([a, b], k) => {
      if (k) parts.push(" + ");
      parts.push({ a, b });
    });
    if (terms.length) {
      parts.push(" = ");
      parts.push(terms.map(([a, b]) => factor(value(a)) + "·" + factor(value(b))).join(" + "));
      parts.push(" = " + fmt(total));
    }
    if (note) parts.push({ note });
    return parts;
  }

  function frameSum(frame) {
    return frame.terms.reduce((s, [a, b]) => s + value(a) * value(b), 0);
  }

  function hoverEquation(t, i) {
    const lhs = T[t].names[i];
    if (L.kind === "conv") return sumEquation(lhs, L.sums[t][i], state[t][i]);
    const P = L.pool, win = P.windows[i];
    if (t === "B") {
      const names = win.map((a) => T.A.names[a]).join(", "), vals = win.map((a) => fmt(state.A[a])).join(", ");
      if (P.kind === "max") return [lhs + " = max(" + names + ") = max(" + vals + ") = " + fmt(state.B[i])];
      const d = P.divisors[i];
      return [lhs + " = (" + names.replace(/, /g, " + ") + ") / " + d + " = (" + vals.replace(/, /g, " + ") +
              ") / " + d + " = " + fmt(state.B[i])];
    }
    const from = contributors(t, i).map((r) => r.i);
    if (!from.length) return [lhs + " = 0", { note: P.kind === "max" ? UI.no_window_max : UI.no_window }];
    const share = (k) => (P.kind === "max" ? "" : " / " + P.divisors[k]);
    return [lhs + " = " + from.map((k) => T.dB.names[k] + share(k)).join(" + ") + " = " +
            from.map((k) => factor(state.dB[k]) + share(k)).join(" + ") + " = " + fmt(state.dA[i])];
  }

  function showEquation(widget, parts) {
    const box = widget.equation;
    box.textContent = "";
    for (const p of parts) {
      if (typeof p === "string") {
        // words of the page's language (an Arabic "cropped cell") are isolated, or the bidi algorithm would pull
        // the neighbouring "= 0" into their right-to-left run
        box.appendChild(/[\u0600-\u06ff]/.test(p) ? el("bdi", {}, p) : document.createTextNode(p));
      } else if (p.note) {
        box.appendChild(document.createTextNode(" "));
        box.appendChild(el("bdi", { class: "note", dir: document.documentElement.dir || "ltr" }, p.note));
      } else {
        const span = el("span", { class: "term", tabindex: "0" });
        for (const [k, f] of [["a", p.a], ["b", p.b]]) {
          if (k === "b") span.appendChild(document.createTextNode("·"));
          const s = el("span", f.z ? { class: "zero", title: zeroTitle(f.z) } : {}, nameOf(f));
          span.appendChild(s);
        }
        const on = () => {
          clear("data-factor");
          for (const f of [p.a, p.b]) if (!f.z) mark(f.t, f.i, "data-factor");
        };
        span.addEventListener("mouseenter", on);
        span.addEventListener("focus", on);
        span.addEventListener("mouseleave", () => clear("data-factor"));
        span.addEventListener("blur", () => clear("data-factor"));
        box.appendChild(span);
      }
    }
  }

  // ---- the stepper ---------------------------------------------------------

  function frameEquation(frame) {
    if (L.kind === "pool") {
      const k = frame.window, t = "B";
      const parts = hoverEquation(t, k);
      const dB = T.dB.names[k];
      if (L.pool.kind === "max") {
        parts.push(" → " + T.dA.names[winners[k]] + " += " + dB + " = " + fmt(state.dB[k]));
      } else {
        const n = L.pool.windows[k].length;
        parts.push(" → " + (n === 1 ? UI.each_gets_one : UI.each_gets.replace("{n}", n)) + " " + dB + " / " +
                   L.pool.divisors[k] + " = " + fmt(state.dB[k] / L.pool.divisors[k]));
      }
      return parts;
    }
    const lhs = frame.lhs ? nameOf(frame.lhs) : UI.cropped_cell;
    const note = frame.inserted ? UI.inserted_products.replace("{n}", frame.inserted) : frame.lhs ? "" : UI.cropped;
    return sumEquation(lhs, frame.terms, frameSum(frame), note);
  }

  function showFrame(w, pos) {
    const frames = w.spec.frames;
    w.pos = Math.max(0, Math.min(frames.length - 1, pos));
    const frame = frames[w.pos];
    for (const c of w.root.querySelectorAll(".win, .target, .winner")) c.classList.remove("win", "target", "winner");
    const at = ([g, c]) => w.grids[g].children[c];
    for (const c of frame.cells) at(c).classList.add("win");
    at(frame.target).classList.add("target");
    if (frame.also) at(frame.also).classList.add("target");
    if (L.kind === "pool") {
      const route = L.pool.kind === "max" ? [winners[frame.window]] : L.pool.windows[frame.window];
      for (const a of route) w.grids[frame.route].children[a].classList.add("target");
      if (L.pool.kind === "max") {
        for (const e of cellsOf[key("A", winners[frame.window])]) e.classList.add("winner");
      }
    }
    w.slider.value = String(w.pos);
    w.prevBtn.setAttribute("aria-disabled", String(w.pos === 0));
    w.nextBtn.setAttribute("aria-disabled", String(w.pos === frames.length - 1));
    w.position.textContent = UI.position.replace("{k}", w.pos + 1).replace("{n}", frames.length);
    w.shows = null;
    showEquation(w, frameEquation(frame));
  }

  function stop(w) {
    if (w.timer) clearInterval(w.timer);
    w.timer = null;
    w.play.textContent = UI.play;
    w.play.setAttribute("aria-pressed", "false");
  }

  function togglePlay(w) {
    if (w.timer) return stop(w);
    const reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    if (w.pos >= w.spec.frames.length - 1) showFrame(w, 0);
    w.play.textContent = UI.pause;
    w.play.setAttribute("aria-pressed", "true");
    w.timer = setInterval(() => {
      if (w.pos >= w.spec.frames.length - 1) return stop(w);
      showFrame(w, w.pos + 1);
    }, reduced ? 2000 : 1000);
  }

  // ---- building a widget ---------------------------------------------------

  const widgets = [];

  function build(root, spec) {
    root.textContent = "";
    // a figure may start past frames that only set the scene (the full correlation's cropped border)
    const w = { root, spec, pos: spec.start || 0, shows: null, grids: [], timer: null };
    const row = el("div", { class: "grids" });
    spec.grids.forEach((g, k) => {
      const item = el("div", { class: "item" }); // an operator stays on the line of the grid it precedes
      if (g.join) item.appendChild(el("span", { class: "op", "aria-hidden": "true" }, g.join));
      const fig = el("figure", { class: "grid", "data-grid": g.role });
      const cells = el("div", { class: "cells", role: "group", "aria-label": g.label });
      cells.style.gridTemplateColumns = "repeat(" + g.cols + ", auto)";
      for (const c of g.cells) cells.appendChild(makeCell(c, w));
      fig.appendChild(cells);
      fig.appendChild(el("figcaption", {}, g.label));
      item.appendChild(fig);
      row.appendChild(item);
      w.grids.push(cells);
    });
    root.appendChild(row);
    const legend = el("div", { class: "legend" });
    for (const z of spec.legend || []) legend.appendChild(el("span", { class: "l-" + z, dir: "auto" }, UI["legend_" + z]));
    if (legend.childElementCount) root.appendChild(legend);

    const controls = el("div", { class: "controls" });
    // the arrows stay outside the words: in an Arabic page the figure still runs left to right
    const label = (arrow, text, after) => {
      const parts = [el("span", { "aria-hidden": "true", dir: "ltr" }, arrow), el("span", { dir: "auto" }, text)];
      return after ? parts.reverse() : parts;
    };
    w.prevBtn = el("button", { type: "button", dir: "ltr", "data-role": "prev", "aria-label": UI.prev_label });
    w.prevBtn.append(...label("‹ ", UI.prev, false));
    w.play = el("button", { type: "button", dir: "ltr", "data-role": "play", "aria-label": UI.play_label, "aria-pressed": "false" }, UI.play);
    w.nextBtn = el("button", { type: "button", dir: "ltr", "data-role": "next", "aria-label": UI.next_label });
    w.nextBtn.append(...label(" ›", UI.next, true));
    w.slider = el("input", { type: "range", min: "0", max: String(spec.frames.length - 1), value: "0",
                             "data-role": "position", "aria-label": UI.slider_label });
    w.position = el("span", { class: "position", "aria-hidden": "true" });
    w.prevBtn.addEventListener("click", () => { stop(w); showFrame(w, w.pos - 1); });
    w.nextBtn.addEventListener("click", () => { stop(w); showFrame(w, w.pos + 1); });
    w.play.addEventListener("click", () => togglePlay(w));
    w.slider.addEventListener("input", () => { stop(w); showFrame(w, +w.slider.value); });
    controls.append(w.prevBtn, w.play, w.nextBtn, w.slider, w.position);
    root.appendChild(controls);
    w.equation = el("div", { class: "equation", "data-role": "equation", "aria-live": "polite" });
    root.appendChild(w.equation);
    root.appendChild(el("p", { class: "help", dir: document.documentElement.dir || "ltr" }, UI["help_" + L.kind]));
    root.addEventListener("keydown", (ev) => {
      if (ev.target.tagName === "INPUT") return; // typing, or the slider's own arrow keys
      const moves = { ArrowLeft: -1, ArrowRight: 1 };
      if (ev.key in moves) showFrame(w, w.pos + moves[ev.key]);
      else if (ev.key === "Home") showFrame(w, 0);
      else if (ev.key === "End") showFrame(w, spec.frames.length - 1);
      else return;
      stop(w);
      ev.preventDefault();
    });
    widgets.push(w);
  }

  for (const spec of L.widgets) {
    const root = document.querySelector('[data-widget="' + spec.id + '"]');
    if (root) build(root, spec);
  }
  refresh();
})();
