// drid live: polls /api/state twice a second and asks each source for its next annotated frame
// as soon as it has shown the previous one (so a slow browser gets fewer frames, never a backlog).
"use strict";
const viewerId = Math.random().toString(36).slice(2, 10);
const views = new Map();          // source id -> {root, img, frames received}
window.driLive = { framesReceived: 0, statesReceived: 0, decisions: [] };
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const ms = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function viewFor(source) {
  let v = views.get(source.id);
  if (v) return v;
  const root = document.createElement("div");
  root.className = "view";
  root.dataset.source = source.id;
  root.innerHTML = `<div class="bar"><span><b class="name"></b></span><span class="where"></span></div>
    <div class="screen"><img alt="annotated video of the source"></div>
    <div class="decision"><div class="action" data-testid="decision-action">–</div><div class="rationale"><span class="why">waiting for the first decision</span><small class="by"></small></div></div>
    <div class="history"></div>`;
  $("views").appendChild(root);
  v = { root, img: root.querySelector("img"), received: 0 };
  views.set(source.id, v);
  pull(source.id, v);
  return v;
}

async function pull(id, v) {
  // One request at a time per source: the server sends the newest frame it has for us.
  for (;;) {
    try {
      const r = await fetch(`/frame/${id}?viewer=${viewerId}`, { cache: "no-store" });
      if (r.status === 200) {
        const blob = await r.blob();
        const url = URL.createObjectURL(blob);
        await new Promise((ok) => { v.img.onload = ok; v.img.onerror = ok; v.img.src = url; });
        if (v.url) URL.revokeObjectURL(v.url);
        v.url = url;
        v.received += 1;
        window.driLive.framesReceived += 1;
        v.root.dataset.frames = v.received;
        v.root.querySelector(".where").textContent = `frame ${r.headers.get("X-Frame-Index")} · ${Number(r.headers.get("X-Frame-Timestamp")).toFixed(2)} s · ${v.received} shown here`;
      } else if (r.status !== 204) {
        await sleep(1000);
      }
    } catch (e) {
      await sleep(1000);
    }
  }
}
const sleep = (t) => new Promise((ok) => setTimeout(ok, t));

function showSource(s) {
  const v = viewFor(s);
  v.root.querySelector(".name").textContent = s.name.split("/").pop();
  v.root.querySelector(".name").title = s.name;
  const d = s.latest.decision;
  const act = v.root.querySelector(".action");
  if (d) {
    const action = Array.isArray(d.action) ? "(" + d.action.map((a) => a.toFixed(2)).join(", ") + ")" : String(d.action);
    if (act.textContent !== action) window.driLive.decisions.push(action);
    act.textContent = action;
    act.className = "action " + action.toLowerCase();
    v.root.querySelector(".why").textContent = d.rationale || "(no rationale given)";
    v.root.querySelector(".by").textContent = `decided by ${d.plugin || "?"}` + (d.confidence != null ? ` · confidence ${d.confidence.toFixed(2)}` : "") + ` · frame ${s.latest.index}`;
  }
  v.root.querySelector(".history").innerHTML = s.decisions.slice(0, 8).map((h) => `<span>${esc(h.action)} since ${h.timestamp.toFixed(1)} s</span>`).join("");
}

function showScene(s) {
  const l = s.latest;
  $("situations").innerHTML = l.situations && l.situations.length ? l.situations.map((x) => `<span>${esc(x.replace(/_/g, " "))}</span>`).join("") : `<span class="none">no named situation</span>`;
  $("facts").innerHTML = (l.facts || []).slice(0, 10).map((f) => `<li>${esc(f)}</li>`).join("") || `<li style="color:var(--dim)">${l.detections || 0} detections, ${l.objects || 0} objects</li>`;
  const rows = [];
  for (const [name, z] of Object.entries(s.zones)) rows.push(`<tr><td>zone</td><td>${esc(name)}</td><td>${z.now} in now</td><td>${z.entered} entered</td><td>${z.exited} left</td></tr>`);
  for (const [name, c] of Object.entries(s.lines)) {
    const cells = Object.entries(c).map(([d, n]) => `<td>${n} ${esc(d)}</td>`).join("") || `<td>0 crossed</td>`;
    rows.push(`<tr><td>line</td><td>${esc(name)}</td>${cells}</tr>`);
  }
  $("counts").innerHTML = rows.join("") || `<tr><td style="color:var(--dim)">no zones or lines in this pipeline</td></tr>`;
  $("events").innerHTML = s.events.slice(0, 30).map((e) => `<li><i>${e.timestamp.toFixed(2)} s</i>${esc(e.text)}</li>`).join("") || `<li style="color:var(--dim)">none yet</li>`;
}

function showStages(summary) {
  const stages = Object.values(summary.stages);
  const total = stages.filter((st) => !["source", "sink"].includes(st.name)).reduce((a, st) => a + st.latency.mean_ms * st.latency.count, 0) || 1;
  const head = `<tr><th>stage</th><th>plugin</th><th>in</th><th>out</th><th>dropped</th><th>failed</th><th>waiting</th><th>mean ms</th><th>p95 ms</th><th>max ms</th><th>share of time</th></tr>`;
  const rows = [];
  for (const st of stages) {
    const spent = st.latency.mean_ms * st.latency.count;
    const share = ["source", "sink"].includes(st.name) ? "" : `<span class="share" style="width:${Math.round(100 * spent / total)}px"></span> ${Math.round(100 * spent / total)} %`;
    rows.push(`<tr class="stage" data-stage="${esc(st.name)}"><td>${esc(st.name)}</td><td></td><td>${st.frames_in}</td><td>${st.frames_out}</td>` +
      `<td class="${st.dropped ? "warn" : ""}">${st.dropped}</td><td class="${st.failed ? "bad" : ""}">${st.failed}</td><td class="${st.waiting ? "warn" : ""}">${st.waiting}</td>` +
      `<td>${ms(st.latency.mean_ms)}</td><td>${ms(st.latency.p95_ms)}</td><td>${ms(st.latency.max_ms)}</td><td style="text-align:left">${share}</td></tr>`);
    for (const p of Object.values(st.plugins)) {
      rows.push(`<tr class="plugin"><td>${esc(st.name)}</td><td>${esc(p.name)}</td><td>${p.calls}</td><td>${p.calls - p.failures}</td><td></td>` +
        `<td class="${p.failures ? "bad" : ""}">${p.failures}</td><td></td><td>${ms(p.latency.mean_ms)}</td><td>${ms(p.latency.p95_ms)}</td><td>${ms(p.latency.max_ms)}</td><td></td></tr>`);
    }
  }
  $("stages").innerHTML = head + rows.join("");
  const drops = Object.entries(summary.drops).map(([r, n]) => `<li><b>${n}</b> ${esc(r)}</li>`);
  const skips = Object.entries(summary.source_skips).map(([r, n]) => `<li><b>${n}</b> skipped by the source: ${esc(r)}</li>`);
  $("drops").innerHTML = [...drops, ...skips].join("") || `<li style="color:var(--dim)">none: every frame read was written</li>`;
  $("notes").innerHTML = (summary.notes || []).map((n) => `<li>${esc(n)}</li>`).join("") + (summary.error ? `<li class="bad">error: ${esc(summary.error)}</li>` : "");
}

function plot(sources) {
  const c = $("fps-plot"), g = c.getContext("2d");
  const W = (c.width = c.clientWidth * devicePixelRatio), H = (c.height = 170 * devicePixelRatio);
  g.clearRect(0, 0, W, H);
  const series = sources.map((s) => s.fps_history);
  const all = series.flat();
  if (!all.length) return;
  const t1 = Math.max(...all.map((p) => p[0])), t0 = Math.max(0, t1 - 120);
  const top = Math.max(1, ...all.filter((p) => p[0] >= t0).map((p) => p[1])) * 1.15;
  const pad = 30 * devicePixelRatio;
  g.strokeStyle = "#2c3640"; g.fillStyle = "#8d99a6"; g.font = `${11 * devicePixelRatio}px system-ui`; g.lineWidth = 1;
  for (let k = 0; k <= 4; k++) {
    const y = H - pad / 2 - (H - pad) * k / 4;
    g.beginPath(); g.moveTo(pad, y); g.lineTo(W, y); g.stroke();
    g.fillText((top * k / 4).toFixed(top < 8 ? 1 : 0), 2, y + 4);
  }
  const colours = ["#3a8ee6", "#2e9d4a", "#d48a0b", "#c8323a"];
  series.forEach((pts, i) => {
    g.strokeStyle = colours[i % colours.length]; g.lineWidth = 2 * devicePixelRatio; g.beginPath();
    pts.filter((p) => p[0] >= t0).forEach((p, j) => {
      const x = pad + (W - pad) * (p[0] - t0) / Math.max(1e-6, t1 - t0), y = H - pad / 2 - (H - pad) * p[1] / top;
      j ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke();
  });
  $("fps-note").textContent = `last ${Math.round(t1 - t0)} s, per source`;
}

function showPreview(sources) {
  $("preview").innerHTML = sources.map((s) => {
    const p = s.preview, missed = Object.entries(p.dropped).filter(([, n]) => n).map(([r, n]) => `${n} ${esc(r)}`).join(", ");
    return `<div>${esc(s.name.split("/").pop())}: <b>${p.sent}</b> sent to ${p.viewers} viewer${p.viewers === 1 ? "" : "s"}` + (missed ? `, missed ${missed}` : "") + `</div>`;
  }).join("");
}

async function poll() {
  for (;;) {
    try {
      const r = await fetch("/api/state", { cache: "no-store" });
      const s = await r.json();
      window.driLive.statesReceived += 1;
      $("pipeline").textContent = s.pipeline;
      $("status").textContent = s.status;
      $("status").dataset.status = s.status;
      const sum = s.summary;
      if (sum) {
        const fps = s.sources.reduce((a, x) => a + x.fps, 0);
        $("fps").textContent = (s.status === "running" ? fps : sum.fps).toFixed(1);
        $("read").textContent = sum.frames_read;
        $("written").textContent = sum.frames_out;
        const dropped = Object.values(sum.drops).reduce((a, n) => a + n, 0);
        $("dropped").textContent = dropped;
        $("elapsed").textContent = `${s.elapsed_s.toFixed(1)} s`;
        $("elapsed").nextElementSibling.textContent = s.status === "running" ? "running" : "took";
        showStages(sum);
      }
      s.sources.forEach(showSource);
      if (s.sources.length) showScene(s.sources[0]);
      showPreview(s.sources);
      plot(s.sources);
    } catch (e) {
      $("status").textContent = "offline (the run has ended)";
      $("status").dataset.status = "offline";
    }
    await sleep(500);
  }
}
// The page counts as a viewer of the first source before the run has produced a frame.
viewFor({ id: 0, name: "source" });
poll();
