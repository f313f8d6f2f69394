// vidcolor studio page: every request carries the token the page was opened with.
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const q = "?token=" + encodeURIComponent(token);
const $ = (id) => document.getElementById(id);
let state = null, shot = 0, version = 0;

async function api(method, path, body) {
  const opts = { method, headers: { "X-Studio-Token": token } };
  if (body instanceof FormData) opts.body = body;
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

async function load() {
  state = await api("GET", "/api/shots");
  $("film").textContent = state.film;
  $("strength").value = state.strength; $("strength-v").textContent = state.strength;
  const strip = $("strip"); strip.textContent = "";
  state.shots.forEach((s) => {
    const img = document.createElement("img");
    img.src = `/api/shots/${s.shot}/gray.png${q}`;
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
  refresh();
}

async function refresh() {
  state = await api("GET", "/api/shots");
  const s = state.shots[shot];
  const t0 = performance.now();
  const img = $("colour");
  img.onload = () => { $("status").textContent = `preview ${Math.round(performance.now() - t0)} ms`; };
  img.src = `/api/shots/${shot}/colour.png${q}&v=${++version}`;
  const list = $("hints"); list.textContent = "";
  [...document.querySelectorAll(".dot")].forEach((d) => d.remove());
  s.hints.forEach((h, i) => {
    const li = document.createElement("li");
    const colour = document.createElement("input"); colour.type = "color"; colour.value = hex(h.rgb);
    colour.onchange = () => api("PUT", `/api/shots/${shot}/hints/${i}`, { x: h.x, y: h.y, rgb: rgbOf(colour.value) }).then(refresh, fail);
    li.appendChild(colour);
    li.appendChild(document.createTextNode(`(${h.x.toFixed(2)}, ${h.y.toFixed(2)}) `));
    const del = document.createElement("button"); del.textContent = "delete";
    del.onclick = () => api("DELETE", `/api/shots/${shot}/hints/${i}`).then(refresh, fail);
    li.appendChild(del); list.appendChild(li);
    const dot = document.createElement("div"); dot.className = "dot";
    dot.style.left = `${h.x * 100}%`; dot.style.top = `${h.y * 100}%`; dot.style.background = hex(h.rgb);
    $("wrap").appendChild(dot);
  });
  $("ref-state").textContent = s.reference ? "this shot has a reference" : "no reference";
}

// the colour under a point of the colorized keyframe: where the picker starts
function colourAt(img, x, y) {
  const c = document.createElement("canvas"); c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext("2d"); g.drawImage(img, 0, 0);
  const d = g.getImageData(Math.min(c.width - 1, Math.floor(x * c.width)), Math.min(c.height - 1, Math.floor(y * c.height)), 1, 1).data;
  return [d[0], d[1], d[2]];
}

$("colour").addEventListener("click", (ev) => {
  const r = ev.target.getBoundingClientRect();
  const x = Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
  const y = Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height));
  const picked = rgbOf($("picker").value);
  api("POST", `/api/shots/${shot}/hints`, { x, y, rgb: picked }).then(refresh, fail);
});
$("colour").addEventListener("contextmenu", (ev) => {  // right click: take the colour there into the picker
  ev.preventDefault();
  const r = ev.target.getBoundingClientRect();
  $("picker").value = hex(colourAt(ev.target, (ev.clientX - r.left) / r.width, (ev.clientY - r.top) / r.height));
});
$("strength").addEventListener("change", (ev) => {
  $("strength-v").textContent = ev.target.value;
  api("PUT", "/api/strength", { strength: parseFloat(ev.target.value) }).then(refresh, fail);
});
$("ref").addEventListener("change", (ev) => {
  const f = ev.target.files[0]; if (!f) return;
  const form = new FormData(); form.append("file", f);
  api("POST", `/api/shots/${shot}/reference`, form).then(refresh, fail).finally(() => { ev.target.value = ""; });
});
$("ref-del").onclick = () => api("DELETE", `/api/shots/${shot}/reference`).then(refresh, fail);
$("save").onclick = () => api("POST", "/api/save").then((d) => {
  $("status").textContent = "saved " + (d.written.join(", ") || "(no guidance)");
}, fail);
async function poll() {  // the background render's progress, every half second while it runs
  const r = await api("GET", "/api/render");
  $("progress").max = r.total || 1; $("progress").value = r.done;
  $("status").textContent = r.state === "running" ? `rendering ${r.done}/${r.total}` : r.message;
  if (r.state === "running") setTimeout(() => poll().catch(fail), 500);
}
$("render").onclick = () => api("POST", "/api/render").then(poll, fail);
$("quit").onclick = () => api("POST", "/api/quit").then(() => { document.body.textContent = "studio stopped"; }, fail);
// (the server writes the token into index.html for its stylesheet and script)
load().catch(fail);
