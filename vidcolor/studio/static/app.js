// vidcolor studio page: every request carries the token the page was opened with.
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const q = "?token=" + encodeURIComponent(token);
const $ = (id) => document.getElementById(id);
let state = null, shot = 0, version = 0;

async function api(method, path, body) {
  const opts = { method, headers: { "X-Studio-Token": token } };
  if (body instanceof FormData || body instanceof Blob) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  const r = await fetch(path + q, opts);
  const doc = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(doc.error || r.statusText);
  $("error").textContent = "";
  return doc;
}
const fail = (e) => { $("error").textContent = e.message; };
const hex = (rgb) => "#" + rgb.map((c) => c.toString(16).padStart(2, "0")).join("");
const rgbOf = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
const clamp01 = (v) => Math.min(1, Math.max(0, v));
const hintUrl = (i) => `/api/shots/${shot}/hints/${i}`;

async function load() {
  state = await api("GET", "/api/shots");
  $("film").textContent = state.film;
  $("strength").value = state.strength; $("strength-v").textContent = state.strength;
  $("smoothing").value = state.smoothing; $("smoothing-v").textContent = state.smoothing;
  const strip = $("strip"); strip.textContent = "";
  state.shots.forEach((s) => {
    const img = document.createElement("img");
    img.loading = "lazy";  // a feature film has hundreds of shots: fetch those scrolled into view
    img.src = `/api/shots/${s.shot}/thumb.png${q}`;
    img.title = `shot ${s.shot} at ${s.t.toFixed(2)} s`;
    img.onclick = () => select(s.shot);
    strip.appendChild(img);
  });
  select(shot);
}

function select(n) {
  shot = n;
  [...$("strip").children].forEach((im, i) => im.classList.toggle("sel", i === n));
  $("gray").src = `/api/shots/${n}/gray.png${q}`;
  $("shot-preview").removeAttribute("src"); $("shot-preview").hidden = true;
  refresh();
}

// Redraw the selected shot: its colour preview, hint dots and list, reference, the files and command.
async function refresh(openPicker) {
  state = await api("GET", "/api/shots");
  const s = state.shots[shot];
  const t0 = performance.now();
  const img = $("colour");
  img.onload = () => { $("status").textContent = `preview ${Math.round(performance.now() - t0)} ms`; };
  img.src = `/api/shots/${shot}/colour.png${q}&v=${++version}`;
  const end = s.end === null ? "the end" : `${s.end.toFixed(2)} s`;
  $("shot-info").textContent = `shot ${s.shot + 1} of ${state.shots.length}: ${s.t.toFixed(2)} s to ${end}`;
  const list = $("hints"); list.textContent = "";
  [...document.querySelectorAll(".dot")].forEach((d) => d.remove());
  s.hints.forEach((h, i) => {
    const li = document.createElement("li");
    const colour = document.createElement("input"); colour.type = "color"; colour.value = hex(h.rgb);
    colour.onchange = () => {
      $("last").value = colour.value;  // shift-click adds the next hint in it
      api("PUT", hintUrl(i), { x: h.x, y: h.y, rgb: rgbOf(colour.value) }).then(() => refresh(), fail);
    };
    li.appendChild(colour);
    li.appendChild(document.createTextNode(`(${h.x.toFixed(2)}, ${h.y.toFixed(2)}) `));
    const del = document.createElement("button"); del.textContent = "delete";
    del.onclick = () => api("DELETE", hintUrl(i)).then(() => refresh(), fail);
    li.appendChild(del); list.appendChild(li);
    $("wrap").appendChild(dot(h, i, colour));
    if (openPicker === i) { colour.focus(); try { colour.showPicker(); } catch (_e) { /* needs a user gesture in some browsers */ } }
  });
  $("ref-state").textContent = s.reference ? "this shot's reference:" : "no reference: drop a picture on the shot or choose one";
  $("ref-img").hidden = !s.reference;
  if (s.reference) $("ref-img").src = `/api/shots/${shot}/reference.png${q}&v=${version}`;
  $("others").textContent = state.others.length
    ? "Also beside the film, used by the command line but not shown here: " + state.others.join(", ") : "";
  $("command").textContent = state.command;
}

// A hint's dot on the colour preview: drag it to move the hint; a click without a move opens its colour.
function dot(h, i, colour) {
  const d = document.createElement("div"); d.className = "dot"; d.dataset.i = i;
  d.style.left = `${h.x * 100}%`; d.style.top = `${h.y * 100}%`; d.style.background = hex(h.rgb);
  let moved = false;
  d.addEventListener("pointerdown", (ev) => { ev.preventDefault(); ev.stopPropagation(); d.setPointerCapture(ev.pointerId); moved = false; });
  d.addEventListener("pointermove", (ev) => {
    if (!d.hasPointerCapture(ev.pointerId)) return;
    const r = $("colour").getBoundingClientRect();
    d.style.left = `${clamp01((ev.clientX - r.left) / r.width) * 100}%`;
    d.style.top = `${clamp01((ev.clientY - r.top) / r.height) * 100}%`;
    moved = true;
  });
  d.addEventListener("pointerup", (ev) => {
    d.releasePointerCapture(ev.pointerId);
    if (!moved) { colour.click(); return; }
    const x = parseFloat(d.style.left) / 100, y = parseFloat(d.style.top) / 100;
    api("PUT", hintUrl(i), { x, y, rgb: h.rgb }).then(() => refresh(), fail);
  });
  return d;
}

// Click: a hint that starts at the automatic colour there, and its picker opens.
// Shift-click: a hint in the last colour picked.
$("colour").addEventListener("click", (ev) => {
  const r = ev.target.getBoundingClientRect();
  const body = { x: clamp01((ev.clientX - r.left) / r.width), y: clamp01((ev.clientY - r.top) / r.height) };
  if (ev.shiftKey) body.rgb = rgbOf($("last").value);
  api("POST", `/api/shots/${shot}/hints`, body).then((d) => refresh(d.index), fail);
});

function slider(id, path) {
  $(id).addEventListener("input", (ev) => { $(id + "-v").textContent = ev.target.value; });
  $(id).addEventListener("change", (ev) => {
    api("PUT", path, { [id]: parseFloat(ev.target.value) }).then(() => refresh(), fail);
  });
}
slider("strength", "/api/strength");
slider("smoothing", "/api/smoothing");

function upload(file) {
  const form = new FormData(); form.append("file", file);
  return api("POST", `/api/shots/${shot}/reference`, form).then(() => refresh(), fail);
}
$("ref").addEventListener("change", (ev) => {
  const f = ev.target.files[0]; if (!f) return;
  upload(f).finally(() => { ev.target.value = ""; });
});
// a picture dropped anywhere on the shot becomes its reference; dropped elsewhere it is ignored
// (the browser would otherwise open it in place of the page, and unsaved hints would be lost)
for (const kind of ["dragover", "drop"]) document.addEventListener(kind, (ev) => ev.preventDefault());
$("main").addEventListener("dragover", (ev) => { ev.preventDefault(); $("main").classList.add("drop"); });
$("main").addEventListener("dragleave", () => $("main").classList.remove("drop"));
$("main").addEventListener("drop", (ev) => {
  ev.preventDefault(); $("main").classList.remove("drop");
  const f = ev.dataTransfer.files[0];
  if (f) upload(f); else fail(new Error("drop a picture file (from the file manager)"));
});
$("ref-del").onclick = () => api("DELETE", `/api/shots/${shot}/reference`).then(() => refresh(), fail);

$("preview").onclick = () => {  // frames across the shot, through the film's loop: takes seconds
  const img = $("shot-preview"), t0 = performance.now();
  $("status").textContent = "colouring frames across the shot ...";
  img.onload = () => { img.hidden = false; $("status").textContent = `shot preview ${((performance.now() - t0) / 1000).toFixed(1)} s`; };
  img.onerror = () => fail(new Error("the shot preview failed"));
  img.src = `/api/shots/${shot}/preview.png${q}&v=${++version}`;
};
function undo() {  // the last change of hints or a reference, on whichever shot it was
  api("POST", "/api/undo").then((d) => {
    if (d.shot === null) $("status").textContent = "nothing to undo";
    else if (d.shot !== shot) select(d.shot); else refresh();
  }, fail);
}
$("undo").onclick = undo;
document.addEventListener("keydown", (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && ev.key === "z" && ev.target.tagName !== "INPUT") { ev.preventDefault(); undo(); }
});
$("save").onclick = () => {  // disabled while it saves: a double click is one save
  $("save").disabled = true;
  api("POST", "/api/save").then((d) => {
    $("status").textContent = "saved " + (d.written.join(", ") || "(no guidance)");
  }, fail).finally(() => { $("save").disabled = false; });
};
async function poll() {  // the background render's progress, every half second while it runs
  const r = await api("GET", "/api/render");
  $("progress").max = r.total || 1; $("progress").value = r.done;
  $("status").textContent = r.state === "running" ? `rendering ${r.done}/${r.total}` : r.message;
  $("cancel").hidden = r.state !== "running";
  if (r.state === "running") setTimeout(() => poll().catch(fail), 500);
}
$("render").onclick = () => api("POST", "/api/render").then(poll, fail);
$("cancel").onclick = () => api("POST", "/api/render/cancel").catch(fail);
$("quit").onclick = () => (state && state.unsaved && !confirm("Quit without saving the changes?")) ? null : api("POST", "/api/quit").then(() => { document.body.textContent = "studio stopped"; }, fail);
// (the server writes the token into index.html for its stylesheet and script)
load().then(() => api("GET", "/api/render")).then((r) => { if (r.state === "running") poll(); }).catch(fail);
