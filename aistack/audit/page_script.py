"""The audit page's script: review candidates, add crossings, save crossings.csv; no libraries."""

SCRIPT = r"""
"use strict";
const DATA = JSON.parse(document.getElementById("audit-data").textContent);
const KNOWN = new Set([...DATA.classes, ...Object.keys(DATA.aliases)]);
const STATUS_TEXT = {counted: "counted by aistack", unconfirmed: "unconfirmed",
                     confirmed: "confirmed", removed: "removed"};
const SOURCE_TEXT = {aistack: "aistack", strip: "strip", truth: "truth file", added: "added"};
// A short clip's strip is stretched to the window's width, so its frames are easy to hit.
const pxPerFrame = Math.max(DATA.pxPerFrame,
                            Math.floor((window.innerWidth - 64) / DATA.frames * 10) / 10);
let nextId = 1;
let dirty = false;
const lines = DATA.lines.map((line, index) => ({
  ...line, index,
  stored: Object.keys(line.thumbs).map(Number).sort((a, b) => a - b),
  crossings: line.crossings.map(c => ({...c, id: nextId++, was: c.status})),
  selected: null, frame: line.crossings.length ? line.crossings[0].frame : DATA.firstFrame,
}));

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function say(text, ok = false) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.className = ok ? "ok" : "";
}

function changed() {
  dirty = true;
  say("unsaved changes");
}

function nearestStored(line, frame) {
  const s = line.stored;
  if (!s.length) return null;
  let lo = 0, hi = s.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid] < frame) lo = mid + 1; else hi = mid;
  }
  if (lo > 0 && Math.abs(s[lo - 1] - frame) <= Math.abs(s[lo] - frame)) return s[lo - 1];
  return s[lo];
}

function find(line, id) { return line.crossings.find(c => c.id === id); }

// ---- the strip: pixels on the line over time, the side slits' activity, markers ----
function buildStrip(line, section) {
  const width = DATA.frames * pxPerFrame;
  const strip = el("div", {class: "strip", style: `width:${width}px`});
  strip.append(
    el("img", {class: "pixels", src: line.strip, alt: `strip of ${line.name}`,
               style: `height:${line.stripHeight}px`}),
    el("img", {class: "activity", src: line.activity, alt: `side slits of ${line.name}`,
               style: `height:${line.stripHeight}px`}),
  );
  const axis = el("div", {class: "axis"});
  const step = niceStep(DATA.frames, width);
  for (let f = Math.ceil(DATA.firstFrame / step) * step; f < DATA.firstFrame + DATA.frames;
       f += step) {
    axis.append(el("span", {text: String(f), style: `left:${xOf(f)}px`}));
  }
  strip.append(el("div", {class: "markers"}), el("div", {class: "cursor"}), axis);
  strip.addEventListener("click", event => {
    const box = strip.getBoundingClientRect();
    const x = event.clientX - box.left, y = event.clientY - box.top;
    if (y > 2 * line.stripHeight + 2) return;  // the time axis
    const last = DATA.firstFrame + DATA.frames - 1;
    const frame = Math.min(last, DATA.firstFrame + Math.floor(Math.max(0, x) / pxPerFrame));
    const band = y > line.stripHeight ? y - line.stripHeight - 2 : y;
    addCrossing(line, frame, Math.min(1, Math.max(0, band / line.stripHeight)));
  });
  const scroll = el("div", {class: "strip-scroll"}, strip);
  section.append(scroll);
  line.stripNode = strip;
  line.scrollNode = scroll;
}

function niceStep(frames, width) {
  const wanted = frames / Math.max(1, width / 80);  // a label every 80 px or so
  for (const s of [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]) {
    if (s >= wanted) return s;
  }
  return 25000;
}

function xOf(frame) { return (frame - DATA.firstFrame + 0.5) * pxPerFrame; }

function drawMarkers(line) {
  const layer = line.stripNode.querySelector(".markers");
  layer.replaceChildren();
  for (const c of line.crossings) {
    layer.append(el("div", {class: `marker s-${c.status}`, style: `left:${xOf(c.frame)}px`}));
    if (c.position !== null && c.position !== undefined) {
      const top = c.position * line.stripHeight;
      layer.append(el("div", {class: `dot s-${c.status}`,
                              style: `left:${xOf(c.frame)}px;top:${top}px`}));
    }
  }
  line.stripNode.querySelector(".cursor").style.left = `${xOf(line.frame)}px`;
}

// ---- the frames around the selected crossing or frame ----
function drawViewer(line) {
  const viewer = line.viewerNode;
  const c = line.selected === null ? null : find(line, line.selected);
  const at = c ? c.frame : line.frame;
  const head = c ? `frame ${c.frame}: ${c.direction}, ${c.cls}, ${STATUS_TEXT[c.status]}`
                   + ` (${SOURCE_TEXT[c.source]})` : `frame ${at}`;
  viewer.querySelector(".head").textContent = head;
  const film = viewer.querySelector(".film");
  film.replaceChildren();
  const shown = new Set();
  for (const offset of DATA.offsets) {
    const frame = nearestStored(line, at + offset);
    if (frame === null || shown.has(frame)) continue;
    shown.add(frame);
    const delta = frame - at;
    const label = delta === 0 ? `frame ${frame}` : `${frame} (${delta > 0 ? "+" : ""}${delta})`;
    film.append(el("figure", {class: frame === at ? "at" : "", "data-frame": String(frame),
                              style: `max-width:${line.thumbSize[0]}px`,
                              onclick: () => pickFrame(line, frame)},
      el("img", {src: "data:image/jpeg;base64," + line.thumbs[frame], alt: `frame ${frame}`,
                 width: String(line.thumbSize[0]), height: String(line.thumbSize[1])}),
      el("figcaption", {text: label})));
  }
}

function pickFrame(line, frame) {
  const c = line.selected === null ? null : find(line, line.selected);
  if (c && c.frame !== frame) {
    c.frame = frame;
    changed();
  }
  line.frame = frame;
  refresh(line);
}

// ---- the list of crossings ----
function drawTable(line) {
  const body = line.tableNode;
  body.replaceChildren();
  line.crossings.sort((a, b) => a.frame - b.frame || a.id - b.id);
  for (const c of line.crossings) {
    const row = el("tr", {"data-id": String(c.id),
                          class: `st-${c.status}${c.id === line.selected ? " selected" : ""}`,
                          onclick: () => select(line, c.id)});
    const frame = el("input", {class: "frame", type: "number", min: "0", value: String(c.frame),
                               title: "0-based frame index: first frame on the new side"});
    frame.addEventListener("change", () => {
      const value = Number.parseInt(frame.value, 10);
      if (Number.isInteger(value) && value >= 0) { c.frame = value; line.frame = value; changed(); }
      refresh(line);
    });
    const confirm = el("input", {type: "checkbox", class: "confirm",
                                 title: "confirmed crossings are saved (key c)"});
    confirm.checked = c.status === "confirmed";
    confirm.disabled = c.status === "removed";
    confirm.addEventListener("change", () => setConfirmed(line, c, confirm.checked));
    const direction = el("button", {class: `dir ${c.direction}`, text: c.direction,
                                    title: "flip in/out (key d)",
                                    onclick: () => flip(line, c)});
    const cls = el("input", {class: "cls", list: "coco-classes", value: c.cls,
                             title: "COCO class name"});
    cls.addEventListener("input", () => {
      c.cls = cls.value.trim().toLowerCase();
      cls.classList.toggle("bad", !KNOWN.has(c.cls));
      changed();
    });
    const note = el("input", {class: "note", value: c.note, placeholder: "note"});
    note.addEventListener("input", () => { c.note = note.value; changed(); });
    const remove = el("button", {class: "remove",
                                 text: c.status === "removed" ? "\u21ba" : "\u2715",
                                 title: c.status === "removed" ? "restore" : "remove (key x)",
                                 onclick: event => {
                                   event.stopPropagation();
                                   toggleRemoved(line, c);
                                 }});
    row.append(
      el("td", {}, frame),
      el("td", {}, el("span", {class: `badge s-${c.status}`, text: STATUS_TEXT[c.status]}),
         " ", el("small", {text: SOURCE_TEXT[c.source]})),
      el("td", {}, el("label", {}, confirm)),
      el("td", {}, direction),
      el("td", {}, cls),
      el("td", {}, note),
      el("td", {}, remove),
    );
    body.append(row);
  }
}

function drawTally(line) {
  const count = (test, direction) =>
    line.crossings.filter(c => test(c) && c.direction === direction).length;
  const both = test => `in ${count(test, "in")}, out ${count(test, "out")}`;
  const open = line.crossings.filter(c => c.status === "counted" || c.status === "unconfirmed");
  line.tallyNode.replaceChildren(
    "aistack counted ", el("b", {text: both(c => c.source === "aistack")}),
    " \u00b7 confirmed ", el("b", {text: both(c => c.status === "confirmed")}),
    ` \u00b7 ${open.length} to review`);
}

function refresh(line) {
  drawTable(line);
  drawMarkers(line);
  drawViewer(line);
  drawTally(line);
}

function select(line, id) {
  line.selected = id;
  const c = find(line, id);
  if (c) line.frame = c.frame;
  // Rows are not rebuilt on a mere selection: a click on a row's tick must reach that tick.
  if (!line.tableNode.querySelector(`tr[data-id="${id}"]`)) drawTable(line);
  for (const tr of line.tableNode.children) {
    const chosen = Number(tr.dataset.id) === id;
    tr.classList.toggle("selected", chosen);
    if (chosen) tr.scrollIntoView({block: "nearest"});
  }
  drawMarkers(line);
  drawViewer(line);
  const scroll = line.scrollNode;
  const x = xOf(line.frame);
  if (x < scroll.scrollLeft + 40 || x > scroll.scrollLeft + scroll.clientWidth - 40) {
    scroll.scrollLeft = x - scroll.clientWidth / 2;
  }
  activeLine = line;
}

function setConfirmed(line, c, yes) {
  if (c.status === "removed") return;
  // Unticking a crossing that arrived confirmed (a truth row) leaves it to review.
  const open = c.source === "aistack" ? "counted" : "unconfirmed";
  c.status = yes ? "confirmed" : (c.was === "confirmed" ? open : c.was);
  changed();
  refresh(line);
}

function flip(line, c) {
  c.direction = c.direction === "in" ? "out" : "in";
  changed();
  refresh(line);
}

function toggleRemoved(line, c) {
  if (c.status === "removed") c.status = c.restore || c.was;
  else { c.restore = c.status; c.status = "removed"; }
  changed();
  refresh(line);
}

function addCrossing(line, frame, position) {
  const c = {id: nextId++, frame, direction: "in", cls: "person", note: "", source: "added",
             status: "confirmed", was: "unconfirmed", position};
  line.crossings.push(c);
  changed();
  select(line, c.id);
}

function confirmCounted(line) {
  for (const c of line.crossings) if (c.status === "counted") c.status = "confirmed";
  changed();
  refresh(line);
}

// ---- saving: confirmed crossings as crossings.csv ----
function csvCell(text) {
  const value = String(text);
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function save() {
  const rows = [];
  for (const line of lines) {
    for (const c of line.crossings) {
      if (c.status !== "confirmed") continue;
      if (!KNOWN.has(c.cls)) {
        select(line, c.id);
        say(`line ${line.name}, frame ${c.frame}: '${c.cls}' is not a COCO class; not saved`);
        return;
      }
      rows.push([line.name, c.frame, c.direction, DATA.aliases[c.cls] || c.cls, c.note]);
    }
  }
  rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  const text = ["line,frame,direction,class,note",
                ...rows.map(r => r.map(csvCell).join(","))].join("\n") + "\n";
  const link = el("a", {href: URL.createObjectURL(new Blob([text], {type: "text/csv"})),
                        download: "crossings.csv"});
  document.body.append(link);
  link.click();
  link.remove();
  dirty = false;
  say(`saved ${rows.length} confirmed crossing(s) to crossings.csv`, true);
}

// ---- keys: c confirm, d direction, x remove, arrows move the frame, j/k next/previous ----
let activeLine = lines[0];
document.addEventListener("keydown", event => {
  if (event.target instanceof HTMLInputElement) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const line = activeLine;
  if (!line) return;
  const c = line.selected === null ? null : find(line, line.selected);
  const key = event.key;
  if (key === "j" || key === "k") {
    const list = line.crossings;
    const i = c ? list.indexOf(c) : -1;
    const next = list[Math.max(0, Math.min(list.length - 1, i + (key === "j" ? 1 : -1)))];
    if (next) select(line, next.id);
  } else if (!c) {
    return;
  } else if (key === "c") setConfirmed(line, c, c.status !== "confirmed");
  else if (key === "d") flip(line, c);
  else if (key === "x" || key === "Delete") toggleRemoved(line, c);
  else if (key === "ArrowLeft" || key === "ArrowRight") {
    c.frame = Math.max(0, c.frame + (key === "ArrowLeft" ? -1 : 1));
    line.frame = c.frame;
    changed();
    refresh(line);
  } else return;
  event.preventDefault();
});

window.addEventListener("beforeunload", event => {
  if (dirty) { event.preventDefault(); event.returnValue = ""; }
});

function build() {
  const main = document.querySelector("main");
  const classes = el("datalist", {id: "coco-classes"});
  for (const name of DATA.classes) classes.append(el("option", {value: name}));
  main.append(classes);
  for (const line of lines) {
    const [x1, y1, x2, y2] = line.points.map(v => Math.round(v));
    const section = el("section", {class: "line", id: `line-${line.index}`,
                                   "data-line": line.name});
    const ends = `P1 (${x1}, ${y1}) \u2192 P2 (${x2}, ${y2}); P1 is at the top of the strip`;
    section.append(el("h2", {}, `line ${line.name} `, el("span", {class: "pts", text: ends})));
    line.tallyNode = el("p", {class: "tally"});
    section.append(line.tallyNode);
    buildStrip(line, section);
    section.append(el("div", {class: "legend"},
      el("span", {}, el("i", {class: "s-counted"}), "counted by aistack"),
      el("span", {}, el("i", {class: "s-unconfirmed"}), "strip only, unconfirmed"),
      el("span", {}, el("i", {class: "s-confirmed"}), "confirmed (saved)"),
      el("span", {}, el("i", {class: "s-removed"}), "removed"),
      el("span", {}, el("span", {class: "sw", style: "background:#c83cc8"}), "out side only"),
      el("span", {}, el("span", {class: "sw", style: "background:#50c850"}), "in side only"),
      el("span", {}, "magenta then green = in, green then magenta = out"),
      el("span", {}, "click the strip to add a crossing there")));
    line.viewerNode = el("div", {class: "viewer"},
      el("div", {class: "head"}),
      el("div", {class: "hint", text: "Click the first frame with the feet past the line to "
                 + "set the crossing's frame. The green arrow points to the in side."}),
      el("div", {class: "film"}));
    line.tableNode = el("tbody");
    const table = el("table", {},
      el("thead", {}, el("tr", {},
        el("th", {text: "frame"}), el("th", {text: "status"}), el("th", {text: "\u2713"}),
        el("th", {text: "dir"}), el("th", {text: "class"}), el("th", {text: "note"}), el("th"))),
      line.tableNode);
    const tools = el("div", {style: "padding:4px 6px"},
      el("button", {class: "small confirm-counted", text: "confirm all counted by aistack",
                    onclick: () => confirmCounted(line)}));
    const list = el("div", {class: "list"}, tools, table);
    section.append(line.viewerNode, list);
    main.append(section);
    refresh(line);
  }
}

build();
document.getElementById("save").addEventListener("click", save);
"""
