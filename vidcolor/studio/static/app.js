// vidcolor studio page: every request carries the token the page was opened with.
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const q = "?token=" + encodeURIComponent(token);
const $ = (id) => document.getElementById(id);
// state: the studio as last loaded; shot: the selected one; bust: a counter that makes each picture
// request new; version: the studio's version this page has seen (every edit sends it: an edit from a
// page that missed another tab's change is refused by the server, never applied to the wrong hint)
let state = null, shot = 0, bust = 0, version = null;

// Edits go one at a time, each carrying the version the one before it left (two quick edits from this
// page are never taken for another tab's); reads go at once.
let queue = Promise.resolve();
function api(method, path, body) {
  if (method === "GET") return send(method, path, body);
  const p = queue.then(() => send(method, path, body));
  queue = p.catch(() => {});
  return p;
}

async function send(method, path, body) {
  const opts = { method, headers: { "X-Studio-Token": token } };
  if (method !== "GET" && version !== null) opts.headers["X-Studio-Version"] = String(version);
  if (body instanceof FormData || body instanceof Blob) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  let r;
  const url = path + (path.includes("?") ? "&" + q.slice(1) : q);
  try { r = await fetch(url, opts); } catch (_e) {
    throw new Error("the studio is not answering: it was stopped (Ctrl-C in its terminal?) or the connection was lost");
  }
  const doc = await r.json().catch(() => ({}));
  if (r.status === 409) {  // another tab changed the studio: show what it holds now, then say so
    await load().catch(() => {});
    throw new Error(doc.error || "the studio changed in another tab");
  }
  if (!r.ok) throw new Error(doc.error || r.statusText);
  if (typeof doc.version === "number") version = doc.version;
  // an edit that went through clears the last error; a read does not (the reload after a refused
  // edit would otherwise wipe the message saying why it was refused)
  if (method !== "GET") $("error").textContent = "";
  return doc;
}
const fail = (e) => { $("error").textContent = e.message; };
const hex = (rgb) => "#" + rgb.map((c) => c.toString(16).padStart(2, "0")).join("");
const rgbOf = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
const clamp01 = (v) => Math.min(1, Math.max(0, v));
const hintUrl = (id) => `/api/shots/${shot}/hints/${id}`;
const clock = (t) => `${Math.floor(t / 60)}:${(t % 60).toFixed(1).padStart(4, "0")}`;
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function shotFromUrl() {  // #shot=N: a reload (or a shared link) comes back to the same shot
  const m = /shot=(\d+)/.exec(location.hash);
  return m ? parseInt(m[1], 10) : 0;
}

async function load() {
  state = await api("GET", "/api/shots");
  version = state.version;
  $("film").textContent = `${state.film} (${plural(state.shots.length, "shot")})`;
  $("strength").value = state.strength; $("strength-v").textContent = state.strength;
  $("smoothing").value = state.smoothing; $("smoothing-v").textContent = state.smoothing;
  const strip = $("strip"); strip.textContent = "";
  state.shots.forEach((s) => {
    const cell = document.createElement("button"); cell.className = "cell";
    const img = document.createElement("img");
    img.loading = "lazy";  // a feature film has hundreds of shots: fetch those scrolled into view
    img.src = `/api/shots/${s.shot}/thumb.png${q}`; img.alt = "";
    const label = document.createElement("span");
    cell.title = `shot ${s.shot + 1} at ${s.t.toFixed(2)} s`;
    cell.append(img, label);
    cell.onclick = () => select(s.shot);
    strip.appendChild(cell);
  });
  marks();
  select(Math.min(shotFromUrl(), state.shots.length - 1));
}

function marks() {  // each shot's number, time and what guidance it has (H: hints, R: a reference)
  [...$("strip").children].forEach((cell, i) => {
    const s = state.shots[i];
    const g = (s.hints.length ? `H${s.hints.length}` : "") + (s.reference ? " R" : "");
    cell.lastChild.textContent = `${i + 1} · ${clock(s.t)}${g ? " · " + g : ""}`;
    cell.classList.toggle("guided", !!g);
  });
}

function select(n) {
  shot = n;
  history.replaceState(null, "", `${location.search}#shot=${n}`);
  [...$("strip").children].forEach((c, i) => c.classList.toggle("sel", i === n));
  const sel = $("strip").children[n]; if (sel) sel.scrollIntoView({ block: "nearest", inline: "nearest" });
  $("gray").src = $("wipe-gray").src = `/api/shots/${n}/gray.png${q}`;
  $("shot-preview").removeAttribute("src"); $("shot-preview").hidden = true; $("preview-note").textContent = "";
  stop(); $("player").hidden = true;
  refresh();
}

function stale() {  // the inputs of the shot preview changed: say so until it is made again
  if (!$("shot-preview").hidden) {
    $("shot-preview").classList.add("stale");
    $("preview-note").textContent = "out of date: the guidance or a slider changed since; preview the shot again";
  }
}

// Redraw the selected shot: its colour picture, hint dots and list, reference, the files and command.
async function refresh(openPicker) {
  state = await api("GET", "/api/shots");
  version = state.version;
  marks();
  const s = state.shots[shot];
  const t0 = performance.now();
  const img = $("colour");
  $("wrap").classList.add("busy");
  img.onload = () => { $("wrap").classList.remove("busy"); $("status").textContent = `picture ${Math.round(performance.now() - t0)} ms`; };
  img.onerror = () => { $("wrap").classList.remove("busy"); fail(new Error("the shot's picture could not be made")); };
  img.src = `/api/shots/${shot}/colour.png${q}&v=${++bust}`;
  const end = s.end === null ? "the end" : `${s.end.toFixed(2)} s`;
  $("shot-info").textContent = `shot ${s.shot + 1} of ${state.shots.length}: ${s.t.toFixed(2)} s to ${end}`;
  const list = $("hints"); list.textContent = "";
  [...document.querySelectorAll(".dot")].forEach((d) => d.remove());
  s.hints.forEach((h) => {
    const li = document.createElement("li");
    const colour = document.createElement("input"); colour.type = "color"; colour.value = hex(h.rgb);
    const put = (change) => api("PUT", hintUrl(h.id), { x: h.x, y: h.y, rgb: h.rgb, reach: h.reach, ...change });
    colour.onchange = () => {
      $("last").value = colour.value;  // shift-click adds the next hint in it
      put({ rgb: rgbOf(colour.value) }).then(edited, fail);
    };
    li.appendChild(colour);
    li.appendChild(document.createTextNode(`(${h.x.toFixed(2)}, ${h.y.toFixed(2)}) `));
    // reach: how far the colour spreads from the hint, a fraction of the frame's diagonal
    const reach = document.createElement("input"); reach.type = "range"; reach.className = "reach";
    reach.min = "0.02"; reach.max = "0.6"; reach.step = "0.01"; reach.value = h.reach ?? state.reach_default;
    reach.title = `reach: how far its colour spreads (${h.reach === null ? "default" : h.reach})`;
    reach.onchange = () => put({ reach: parseFloat(reach.value) }).then(edited, fail);
    li.appendChild(reach);
    const pal = document.createElement("button"); pal.textContent = "palette";
    pal.title = "colours at this point's lightness (the first: the automatic colour)";
    pal.onclick = () => palette(li, h, put);
    li.appendChild(pal);
    const del = document.createElement("button"); del.textContent = "delete";
    del.onclick = () => api("DELETE", hintUrl(h.id)).then(edited, fail);
    li.appendChild(del); list.appendChild(li);
    $("wrap").appendChild(dot(h, colour));
    if (openPicker === h.id) { colour.focus(); try { colour.showPicker(); } catch (_e) { /* needs a user gesture in some browsers */ } }
  });
  $("ref-state").textContent = s.reference ? "this shot's reference:" : "no reference: drop a picture on the shot or choose one";
  $("ref-img").hidden = !s.reference;
  $("ref-del").hidden = !s.reference;
  const poor = s.reference && s.match < state.match_gate;
  $("ref-match").textContent = !s.reference ? "" : poor
    ? `It matches this shot poorly: ${Math.round(s.match * 100)} % of the first frame lines up with it (${Math.round(state.match_gate * 100)} % is where the film's own matching trusts a picture). ` +
      "It is pinned to this shot, so Render uses it anyway, as the picture shows; remove it if those colours are wrong."
    : `It matches this shot: ${Math.round(s.match * 100)} % of the first frame lines up with it.`;
  $("ref-match").classList.toggle("warn", !!poor);
  if (s.reference) $("ref-img").src = `/api/shots/${shot}/reference.png${q}&v=${bust}`;
  $("others").textContent = state.others.length
    ? "Also beside the film, used by the command line but not shown here: " + state.others.join(", ") : "";
  $("command").textContent = state.command;
}
const edited = () => { stale(); return refresh(); };

// Swatches for a hint: colours at its pixel's lightness (what a hint can show there); a click picks one.
async function palette(li, h, put) {
  const old = li.nextElementSibling;
  if (old && old.classList.contains("swatches")) { old.remove(); return; }
  const d = await api("GET", `/api/shots/${shot}/palette?x=${h.x}&y=${h.y}`).catch(fail);
  if (!d) return;
  const row = document.createElement("li"); row.className = "swatches";
  d.rgb.forEach((rgb) => {
    const b = document.createElement("button"); b.style.background = hex(rgb); b.title = hex(rgb);
    b.onclick = () => { $("last").value = hex(rgb); put({ rgb }).then(edited, fail); };
    row.appendChild(b);
  });
  li.after(row);
}

// A hint's dot on the colour picture: drag it to move the hint; a click without a move opens its colour.
function dot(h, colour) {
  const d = document.createElement("div"); d.className = "dot"; d.dataset.id = h.id;
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
    api("PUT", hintUrl(h.id), { x, y, rgb: h.rgb }).then(edited, fail);
  });
  return d;
}

// Click: a hint that starts at the automatic colour there, and its picker opens.
// Shift-click: a hint in the last colour picked.
$("colour").addEventListener("click", (ev) => {
  const r = ev.target.getBoundingClientRect();
  const body = { x: clamp01((ev.clientX - r.left) / r.width), y: clamp01((ev.clientY - r.top) / r.height) };
  if (ev.shiftKey) body.rgb = rgbOf($("last").value);
  api("POST", `/api/shots/${shot}/hints`, body).then((d) => { stale(); return refresh(d.id); }, fail);
});

function slider(id, path) {
  $(id).addEventListener("input", (ev) => { $(id + "-v").textContent = ev.target.value; });
  $(id).addEventListener("change", (ev) => {
    api("PUT", path, { [id]: parseFloat(ev.target.value) }).then(edited, fail);
  });
}
slider("strength", "/api/strength");
slider("smoothing", "/api/smoothing");

function upload(file) {
  const form = new FormData(); form.append("file", file);
  return api("POST", `/api/shots/${shot}/reference`, form).then(edited, fail);
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
$("ref-del").onclick = () => api("DELETE", `/api/shots/${shot}/reference`).then(edited, fail);

$("preview").onclick = () => {  // frames across the shot, through the film's loop: takes seconds
  const img = $("shot-preview"), t0 = performance.now();
  const frames = Math.min(parseInt($("preview-frames").value, 10), state.shots[shot].frames);  // as the server clamps
  $("status").textContent = "colouring frames across the shot ...";
  img.onload = () => {
    img.hidden = false; img.classList.remove("stale"); $("preview-note").textContent = "";
    $("status").textContent = `shot preview ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    player(img, frames);
  };
  img.onerror = () => fail(new Error("the shot preview failed"));
  img.src = `/api/shots/${shot}/preview.png${q}&frames=${frames}&v=${++bust}`;
};

// The shot preview played: one row of the sheet (gray | automatic | guided) at a time, in a loop or
// by the scrubber. The sheet's rows are equal and 4 px apart (vidcolor.preview.stack_rows).
let timer = null;
function stop() { if (timer !== null) { clearInterval(timer); timer = null; $("play").textContent = "Play"; } }
function player(img, frames) {
  const h = (img.naturalHeight - 4 * (frames - 1)) / frames;
  const canvas = $("frame"), scrub = $("scrub");
  if (!(h > 0)) return;
  canvas.width = img.naturalWidth; canvas.height = Math.round(h);
  scrub.max = String(frames - 1); scrub.value = "0";
  const show = (k) => {
    canvas.getContext("2d").drawImage(img, 0, k * (h + 4), img.naturalWidth, h, 0, 0, canvas.width, canvas.height);
    scrub.value = String(k); $("scrub-v").textContent = `frame ${k + 1} of ${frames}`;
  };
  scrub.oninput = () => { stop(); show(parseInt(scrub.value, 10)); };
  $("play").onclick = () => {
    if (timer !== null) { stop(); return; }
    $("play").textContent = "Pause";
    timer = setInterval(() => show((parseInt(scrub.value, 10) + 1) % frames), 400);
  };
  stop(); show(0); $("player").hidden = false;
}
$("wipe").addEventListener("input", (ev) => {  // the gray film over the left part of the colour picture
  $("wipe-gray").style.clipPath = `inset(0 ${100 - ev.target.value}% 0 0)`;
});
function undo() {  // the last change of hints or a reference, on whichever shot it was
  api("POST", "/api/undo").then((d) => {
    if (d.shot === null) { $("status").textContent = "nothing to undo"; return; }
    stale();
    if (d.shot !== shot) select(d.shot); else refresh();
  }, fail);
}
$("undo").onclick = undo;
const typing = (el) => el.tagName === "TEXTAREA" || el.isContentEditable ||
  (el.tagName === "INPUT" && !["range", "color", "checkbox", "radio", "button", "file"].includes(el.type));
document.addEventListener("keydown", (ev) => {
  if (typing(ev.target)) return;  // a text field keeps its own Ctrl-Z and arrows
  if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "z") { ev.preventDefault(); undo(); return; }
  if (ev.target.type === "range") return;  // the arrows move a slider that has focus
  if (state && (ev.key === "ArrowRight" || ev.key === "ArrowLeft") && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
    const n = shot + (ev.key === "ArrowRight" ? 1 : -1);
    if (n >= 0 && n < state.shots.length) { ev.preventDefault(); select(n); }
  }
});
window.addEventListener("hashchange", () => { if (state && shotFromUrl() !== shot) select(Math.min(shotFromUrl(), state.shots.length - 1)); });
$("save").onclick = () => {  // disabled while it saves: a double click is one save
  $("save").disabled = true;
  api("POST", "/api/save").then((d) => {
    $("status").textContent = "saved " + (d.written.join(", ") || "(no guidance)");
  }, fail).finally(() => { $("save").disabled = false; });
};
async function poll() {  // the background render's progress, every half second while it runs
  let r;
  try { r = await api("GET", "/api/render"); } catch (e) {
    $("cancel").hidden = true; $("status").textContent = ""; throw e;  // the studio stopped: no stale "rendering"
  }
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
