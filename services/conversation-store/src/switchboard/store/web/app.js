// Switchboard conversation store: the analyst web UI (plain JS, no build step).
// Credentials live in sessionStorage for this tab only and go out as HTTP Basic on each call
// (the recording player, which cannot send headers, uses a short-lived playback ticket instead).
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { auth: sessionStorage.getItem("sb-auth"), me: null, cursor: null, filters: {} };

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
// a snippet from the server: everything escaped, then only <mark> and </mark> restored
function snippet(text) {
  return esc(text).replace(/&lt;(\/?)mark&gt;/g, "<$1mark>");
}
function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}
function fmtDuration(s) {
  if (s == null) return "live";
  const m = Math.floor(s / 60);
  return m ? `${m}m ${Math.round(s % 60)}s` : `${Math.round(s)}s`;
}
// a cost (a decimal string, USD) with its markers: estimated (the emulator), no price (never 0)
function fmtCost(usd, estimated, unpriced) {
  if (unpriced && unpriced.length) return `no price (${unpriced.join(", ")})`;
  if (usd == null) return "—";
  const n = Number(usd);
  const text = `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`;
  return estimated ? `${text} (estimate)` : text;
}
function say(text) {
  $("#status").textContent = text;
}

class Unauthorized extends Error {}
class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { "X-Switchboard-UI": "1", Authorization: `Basic ${state.auth}` };
  const response = await fetch(path, { ...options, headers: { ...headers, ...(options.headers || {}) } });
  if (response.status === 401) throw new Unauthorized("sign in again");
  if (!response.ok) throw new HttpError(response.status, `${response.status} ${(await response.text()).slice(0, 200)}`);
  return response;
}
const json = async (path, options) => (await api(path, options)).json();

function show(view) {
  if (view !== "session") stopRecording();
  document.querySelectorAll(".view").forEach((el) => (el.hidden = el.id !== `view-${view}`));
  document.querySelectorAll("nav a").forEach((a) => {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
}

async function route() {
  if (!state.auth) {
    $("#nav").hidden = true;
    show("signin");
    $("#username").focus();
    return;
  }
  $("#nav").hidden = false;
  const [, view, arg] = (location.hash || "#/sessions").split("/");
  try {
    if (!state.me) {
      state.me = await json("/api/me");
      $("#who").textContent = `${state.me.name} (${state.me.role})`;
    }
    if (view === "session" && arg) await showSession(decodeURIComponent(arg));
    else if (view === "search") show("search");
    else if (view === "stats") await showStats();
    else if (view === "live") await showLive();
    else await showSessions(true);
    say("");
  } catch (err) {
    if (err instanceof Unauthorized) return signOut("Your credentials were refused; sign in again.");
    say(`Could not load: ${err.message}`);
  }
}

function signOut(message) {
  sessionStorage.removeItem("sb-auth");
  state.auth = null;
  state.me = null;
  stopRecording();
  $("#signin-error").textContent = message || "";
  route();
}

// -- sessions ---------------------------------------------------------------------------------
function filterParams() {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state.filters)) {
    if (!value) continue;
    if (key === "since" || key === "until") params.set(key, new Date(value + "T00:00:00Z").toISOString());
    else params.set(key, value);
  }
  return params;
}

// each list request gets a number; an answer that arrives after a newer request was made (the
// first page still loading when the analyst applies a filter) is dropped, not appended
let listRequest = 0;

async function showSessions(reset) {
  show("sessions");
  const body = $("#sessions-body");
  const mine = ++listRequest;
  const params = filterParams();
  params.set("limit", "50");
  if (!reset && state.cursor) params.set("cursor", state.cursor);
  const page = await json(`/api/sessions?${params}`);
  if (mine !== listRequest) return;
  if (reset) body.innerHTML = "";
  for (const s of page.sessions) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td><a href="#/session/${encodeURIComponent(s.id)}">${esc(fmtTime(s.started_at))}</a></td>
      <td>${esc(s.customer_id || "—")}</td><td>${esc(fmtDuration(s.duration_s))}</td>
      <td>${s.user_turns + s.assistant_turns}</td><td>${s.tool_calls}</td>
      <td>${s.tool_failures ? `<span class="badge">${s.tool_failures}</span>` : "0"}</td>
      <td>${s.escalated ? "yes" : "no"}</td><td>${esc(s.end_reason || (s.resumes ? "resumed, live" : "—"))}</td>
      <td class="cost">${esc(fmtCost(s.cost_usd, s.cost_estimated, s.unpriced_models))}</td>
      <td class="rec">${s.recorded ? `<span title="Recorded${s.recording ? ` (${esc(s.recording)})` : ""}">● <span class="sr-only">recorded</span></span>` : `<span class="sr-only">not recorded</span>`}</td>`;
    body.appendChild(tr);
  }
  if (!body.children.length) body.innerHTML = `<tr><td colspan="10">No sessions match.</td></tr>`;
  state.cursor = page.next_cursor;
  $("#more").hidden = !state.cursor;
}

async function exportAs(format) {
  const params = filterParams();
  params.set("format", format);
  say("Exporting…");
  const blob = await (await api(`/api/export?${params}`)).blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `sessions.${format}`;
  a.click();
  URL.revokeObjectURL(a.href);
  say("Export downloaded.");
}

// -- one session ------------------------------------------------------------------------------
function jsonBlock(label, value) {
  if (value == null) return "";
  return `<div><span class="who-said">${label}</span><pre>${esc(JSON.stringify(value, null, 2))}</pre></div>`;
}

// what the bot said; when interrupted, the part the customer never heard is struck through
function spoken(e) {
  if (e.text == null) return "(no transcript)";
  if (e.interrupted && e.heard_text && e.text.startsWith(e.heard_text)) {
    const rest = e.text.slice(e.heard_text.length);
    return `${esc(e.heard_text)}<s title="not heard">${esc(rest)}</s>`;
  }
  return esc(e.text);
}

function entry(e, saidBy) {
  const li = document.createElement("li");
  if (e.kind === "user" || e.kind === "assistant") {
    li.className = e.kind;
    const who = e.kind === "user" ? "Customer" : "Bot";
    let extra = "";
    if (e.interrupted) {
      const heard = e.heard_text ? `heard: “${esc(e.heard_text)}”` : "";
      const ms = e.heard_ms != null ? ` after ${(e.heard_ms / 1000).toFixed(1)} s` : "";
      extra = `<div class="interrupted">Interrupted${ms}${heard ? ` — ${heard}` : ""}</div>`;
    }
    li.innerHTML = `<div class="who-said">${who} · ${esc(fmtTime(e.at))}</div>
      <div class="bubble">${spoken(e)}${extra}</div>`;
    li.setAttribute("aria-label", `${who}${e.interrupted ? " (interrupted)" : ""}`);
  } else if (e.kind === "tool") {
    const ok = e.outcome === "ok";
    li.className = `tool${ok || e.outcome === "pending" ? "" : " failed"}`;
    li.innerHTML = `<div class="card"><span class="who-said">Tool</span> <strong>${esc(e.tool)}</strong>
      <span class="badge ${ok ? "ok" : ""}">${esc(e.outcome)}</span>
      ${e.duration_ms != null ? `<span class="who-said"> ${e.duration_ms.toFixed(1)} ms${e.worker ? ` · ${esc(e.worker)}` : ""}</span>` : ""}
      ${afterTurn(e, saidBy)}
      <details open><summary>Arguments and result</summary>${jsonBlock("Arguments", e.arguments)}${jsonBlock("Result", e.output)}
      ${e.error_message ? `<p class="error">${esc(e.error_message)}</p>` : ""}</details></div>`;
  } else if (e.kind === "latency") {
    li.className = "latency";
    li.textContent = `response after ${Math.round(e.latency_ms)} ms`;
  } else if (e.kind === "error") {
    li.className = "err";
    li.textContent = `${e.source} error ${e.code}: ${e.text}`;
  } else if (e.kind === "session.resumed") {
    li.className = "marker resumed";
    const gap = e.gap_ms != null ? ` after ${(e.gap_ms / 1000).toFixed(1)} s` : "";
    li.textContent = `Session resumed (${e.reason}) on ${e.gateway}${e.previous_gateway ? ` from ${e.previous_gateway}` : ""}${gap}, ${e.items_replayed} items replayed · ${fmtTime(e.at)}`;
  } else {
    li.className = `marker${e.superseded ? " superseded" : ""}`;
    li.textContent = e.kind === "session.started" ? `Session started ${fmtTime(e.at)}` : `Session ended (${e.reason}) ${fmtTime(e.at)}${e.superseded ? " — superseded: resumed later" : ""}`;
  }
  return li;
}

// the customer's turn a tool call came after: for confirm_action, the "yes" that allowed the change
function afterTurn(e, saidBy) {
  if (!e.user_item_id) return "";
  const said = saidBy.get(e.user_item_id);
  const label = e.tool === "confirm_action" ? "Confirmed by the customer's turn" : "After the customer's turn";
  return `<div class="after-turn who-said">${label}: ${said != null ? `“${esc(said)}”` : `<code>${esc(e.user_item_id)}</code>`}</div>`;
}

async function showSession(id) {
  show("session");
  const d = await json(`/api/sessions/${encodeURIComponent(id)}`);
  const s = d.session;
  $("#session-title").textContent = `Session ${s.id}`;
  const meta = [
    ["Customer", s.customer_id], ["Started", fmtTime(s.started_at)], ["Duration", fmtDuration(s.duration_s)],
    ["Ended", s.end_reason || "—"], ["Upstream", `${s.upstream || "—"} · ${s.model || ""}`], ["Voice", s.voice],
    ["Language", s.language], ["Gateway", d.gateway], ["Interruptions", s.interruptions], ["Escalated", s.escalated ? "yes" : "no"],
    ["Events", `${s.event_count}${s.missing_events ? ` (${s.missing_events} missing)` : ""}`], ["Errors", s.errors],
    ["Cost", fmtCost(s.cost_usd, s.cost_estimated, s.unpriced_models)], ["Resumed", s.resumes ? `${s.resumes} time(s)` : "no"],
    ...d.usage.map((u) => [`Tokens · ${u.model}`, `${u.responses} responses: text in ${u.input_text_tokens} (cached ${u.cached_text_tokens}), audio in ${u.input_audio_tokens} (cached ${u.cached_audio_tokens}), text out ${u.output_text_tokens}, audio out ${u.output_audio_tokens}${u.estimated ? " — estimated" : ""}`]),
  ];
  const handoff = $("#handoff");
  handoff.hidden = true;
  $("#handoff-button").onclick = async () => {
    const h = await json(`/api/sessions/${encodeURIComponent(s.id)}/handoff`);
    handoff.textContent = h.text;
    handoff.hidden = false;
  };
  $("#session-meta").innerHTML = meta.map(([k, v]) => `<dt>${k}</dt><dd>${esc(v ?? "—")}</dd>`).join("");
  const list = $("#timeline");
  list.innerHTML = "";
  const saidBy = new Map(d.timeline.filter((e) => e.kind === "user" && e.item_id).map((e) => [e.item_id, e.text ?? ""]));
  d.timeline.forEach((e) => list.appendChild(entry(e, saidBy)));
  showRecording(s).catch((err) => {
    if (err instanceof Unauthorized) return signOut("Your credentials were refused; sign in again.");
    $("#recording-status").textContent = `Could not load the recording: ${err.message}`;
  });
  const del = $("#delete-session");
  del.hidden = state.me.role !== "admin";
  del.onclick = async () => {
    if (!confirm(`Delete session ${s.id} and everything recorded about it?`)) return;
    await api(`/api/sessions/${encodeURIComponent(s.id)}`, { method: "DELETE" });
    say("Session deleted.");
    location.hash = "#/sessions";
  };
  $("#main").focus();
}

// -- the recording ----------------------------------------------------------------------------
// The <audio> element plays a URL with a playback ticket (it cannot send Basic credentials) and
// streams it with range requests; the turns and tool calls lie on the recording's timeline, the
// turn under the playhead is highlighted, and selecting one plays from its start.
const rec = { session: null, timer: null, current: null, renewed: false };
const NO_RECORDING = "No recording (recording was off for this call).";

function fmtClock(ms) {
  const s = Math.max(0, ms || 0) / 1000;
  return `${Math.floor(s / 60)}:${(s % 60).toFixed(1).padStart(4, "0")}`;
}
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function stopRecording() {
  clearTimeout(rec.timer);
  rec.session = null;
  rec.current = null;
  const player = $("#player");
  if (!player || !player.getAttribute("src")) return;
  player.pause();
  player.removeAttribute("src");
  player.load();
}

async function showRecording(s) {
  stopRecording();
  $("#rec-turns").innerHTML = "";
  $("#player-wrap").hidden = true;
  $("#recording").hidden = false;
  if (!s.recorded) {
    $("#recording-status").textContent = NO_RECORDING;
    return;
  }
  rec.session = s.id;
  await loadRecording(s.id);
}

const recordingUrl = (id) => `/api/sessions/${encodeURIComponent(id)}/recording`;

// the seconds a HEAD of the recording says to wait (409 + Retry-After while it is prepared)
async function retryAfter(id) {
  const r = await fetch(recordingUrl(id), { method: "HEAD", headers: { "X-Switchboard-UI": "1", Authorization: `Basic ${state.auth}` } });
  const wait = Number(r.headers.get("Retry-After"));
  return r.status === 409 && wait > 0 ? Math.min(wait, 60) : 1;
}

async function loadRecording(id) {
  const status = $("#recording-status");
  let tl;
  try {
    tl = await json(`${recordingUrl(id)}/timeline`);
  } catch (err) {
    if (err.status !== 404) throw err;
    if (rec.session === id) status.textContent = NO_RECORDING;
    return;
  }
  if (rec.session !== id) return;
  if (tl.status === "empty") {
    status.textContent = "The recording has no audio.";
    return;
  }
  if (tl.status !== "ready") {
    const wait = await retryAfter(id);
    if (rec.session !== id) return;
    const why = tl.status === "recording" ? "the call is still being recorded" : "the file is being assembled";
    status.textContent = `Recording is being prepared… (${why}; trying again in ${wait} s)`;
    rec.timer = setTimeout(() => loadRecording(id).catch((err) => (status.textContent = err.message)), wait * 1000);
    return;
  }
  const ticket = await json(`${recordingUrl(id)}/ticket`, { method: "POST" });
  if (rec.session !== id) return;
  const list = $("#rec-turns");
  const items = [
    ...tl.turns.map((t) => ({ kind: "turn", start: t.start_ms, end: t.end_ms, t })),
    ...tl.tools.filter((t) => t.at_ms != null).map((t) => ({ kind: "tool", start: t.at_ms, end: t.completed_ms, t })),
  ].sort((a, b) => a.start - b.start);
  list.innerHTML = "";
  items.forEach((x) => list.appendChild(recEntry(x)));
  const missing = tl.missing_segments ? ` · ${tl.missing_segments} segment(s) missing (silence there)` : "";
  status.textContent = `${fmtClock(tl.duration_ms)} · two channels: ${tl.channels.join(", ")}${missing}`;
  rec.renewed = false;
  $("#player").src = ticket.url;
  showDownload(tl.compressed, ticket.compressed_url);
  $("#player-wrap").hidden = false;
}

const COPY_NAMES = { "audio/ogg": "Ogg Opus", "audio/flac": "FLAC" };
const fmtBytes = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`);

// the compressed copy (when the assembler made one) is a download; the player keeps the WAV
function showDownload(copy, url) {
  const wrap = $("#rec-download");
  wrap.hidden = !(copy && url);
  if (wrap.hidden) return;
  const link = $("#rec-download-link");
  link.href = url;
  link.textContent = `Download the compressed copy (${COPY_NAMES[copy.content_type] || copy.content_type})`;
  $("#rec-download-size").textContent = fmtBytes(copy.size);
}

// the link's ticket may have expired while the page was open: take a fresh one on each click
async function download(event) {
  const id = rec.session;
  if (!id) return;
  event.preventDefault();
  const ticket = await json(`${recordingUrl(id)}/ticket`, { method: "POST" });
  if (rec.session !== id || !ticket.compressed_url) return;
  const link = $("#rec-download-link");
  link.href = ticket.compressed_url;
  const a = document.createElement("a");
  a.href = ticket.compressed_url;
  a.download = "";
  document.body.appendChild(a);
  a.click();
  a.remove();
}

function recEntry(x) {
  const li = document.createElement("li");
  li.dataset.start = x.start;
  li.dataset.end = x.end ?? "";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "seek";
  const at = `<span class="at">${fmtClock(x.start)}</span>`;
  const t = x.t;
  if (x.kind === "tool") {
    const ok = t.outcome === "ok";
    li.className = `rec-tool${ok || t.outcome === "pending" ? "" : " failed"}`;
    button.innerHTML = `${at} <span class="who-said">Tool</span> <strong>${esc(t.tool)}</strong>
      <span class="badge ${ok ? "ok" : ""}">${esc(t.outcome)}</span>${t.duration_ms != null ? ` <span class="who-said">${t.duration_ms.toFixed(1)} ms</span>` : ""}`;
  } else {
    li.className = `rec-turn ${t.role}`;
    const who = t.role === "user" ? "Customer" : "Bot";
    let cut = "";
    if (t.interrupted) {
      const ms = t.heard_ms != null && t.said_ms != null ? ` — heard ${seconds(t.heard_ms)} of ${seconds(t.said_ms)} said` : "";
      const heard = t.heard_text ? `<div>Heard: “${esc(t.heard_text)}”</div><div>Said: “${esc(t.text ?? "")}”</div>` : "";
      cut = `<div class="interrupted">Interrupted${ms}${heard}</div>`;
    }
    button.innerHTML = `${at} <span class="who-said">${who}</span> <span class="said">${spoken(t)}</span>${cut}`;
  }
  button.addEventListener("click", () => {
    const player = $("#player");
    player.currentTime = x.start / 1000;
    follow();
    if (player.paused) player.play().catch(() => {});
  });
  li.appendChild(button);
  return li;
}

// highlight the turn under the playhead (the latest started when they overlap)
function follow() {
  const ms = $("#player").currentTime * 1000;
  let current = null;
  for (const li of document.querySelectorAll("#rec-turns li.rec-turn")) {
    const start = Number(li.dataset.start);
    const end = li.dataset.end === "" ? Infinity : Number(li.dataset.end);
    if (start <= ms && ms < end) current = li;
  }
  if (current === rec.current) return;
  if (rec.current) {
    rec.current.removeAttribute("aria-current");
    rec.current.classList.remove("current");
  }
  if (current) {
    current.setAttribute("aria-current", "true");
    current.classList.add("current");
    current.scrollIntoView({ block: "nearest" });
  }
  rec.current = current;
}

// a playback that outlives its ticket (or any failed request): one new ticket, same position
async function renewTicket() {
  const player = $("#player");
  const id = rec.session;
  if (!id || !player.getAttribute("src")) return;
  if (rec.renewed) {
    $("#recording-status").textContent = "The recording could not be played; reload the page to try again.";
    return;
  }
  rec.renewed = true;
  const at = player.currentTime;
  const ticket = await json(`${recordingUrl(id)}/ticket`, { method: "POST" });
  if (rec.session !== id) return;
  player.src = ticket.url;
  player.currentTime = at;
  if (ticket.compressed_url) $("#rec-download-link").href = ticket.compressed_url;
}

// -- search, stats, live ----------------------------------------------------------------------
async function search(q) {
  const page = await json(`/api/search?${new URLSearchParams({ q, limit: "50" })}`);
  const list = $("#hits");
  list.innerHTML = page.hits.length ? "" : "<li>No matches.</li>";
  for (const h of page.hits) {
    const li = document.createElement("li");
    li.innerHTML = `<div class="who-said">${h.role === "user" ? "Customer" : "Bot"} · ${esc(h.customer_id || "")} · ${esc(fmtTime(h.at))}</div>
      <a href="#/session/${encodeURIComponent(h.session_id)}">${snippet(h.snippet)}</a>`;
    list.appendChild(li);
  }
  say(`${page.hits.length} match(es).`);
}

// the dashboard's query: From/Until are whole UTC days (Until inclusive); default the last 7 days
function dashParams() {
  const form = Object.fromEntries(new FormData($("#dash-filters")));
  const day = 86400000;
  const today = new Date(new Date().toISOString().slice(0, 10) + "T00:00:00Z");
  const until = form.until ? new Date(new Date(form.until + "T00:00:00Z").getTime() + day) : new Date(today.getTime() + day);
  const since = form.since ? new Date(form.since + "T00:00:00Z") : new Date(until.getTime() - 7 * day);
  const params = new URLSearchParams({ since: since.toISOString(), until: until.toISOString() });
  for (const key of ["language", "escalated", "tool", "tier"]) if (form[key]) params.set(key, form[key]);
  return params;
}

let dashRequest = 0;

async function showDashboard() {
  const mine = ++dashRequest;
  const body = await json(`/api/dashboard/charts?${dashParams()}`);
  if (mine !== dashRequest) return;
  const d = body.dashboard;
  const t = d.totals;
  const est = t.cost_estimated;
  const pct = (x) => `${(x * 100).toFixed(1)}%`;
  $("#dash-range").textContent = `Sessions started ${fmtTime(d.filters.since)} – ${fmtTime(d.filters.until)}, by ${d.bucket} (UTC)` +
    (t.unpriced_responses ? `; ${t.unpriced_responses} responses of models without a price (${t.unpriced_models.join(", ")}) are not in the cost` : "");
  $("#dash-cards").innerHTML = [
    ["Calls", t.calls], ["Resolved without a human", `${t.resolved}${t.calls ? ` (${pct(t.resolved / t.calls)})` : ""}`],
    ["Escalated", t.escalated], ["Cost", fmtCost(t.cost_usd, est)], ["Cost per call", fmtCost(t.cost_per_call_usd, est)],
    ["Cost per resolved call", fmtCost(t.cost_per_resolved_call_usd, est)],
    ["Interruptions per call", t.interruptions_per_call == null ? "—" : t.interruptions_per_call.toFixed(2)],
  ].map(([k, v]) => `<div class="card"><span>${k}</span><strong>${esc(v)}</strong></div>`).join("");
  // the SVG is drawn by the store (every text in it escaped there)
  $("#charts").innerHTML = body.charts.map((c) => `<figure data-chart="${esc(c.id)}">${c.svg}</figure>`).join("");
}

async function showStats() {
  show("stats");
  await showDashboard();
  const s = await json("/api/stats");
  const pct = (x) => `${(x * 100).toFixed(1)}%`;
  const ms = (x) => (x == null ? "—" : `${Math.round(x)} ms`);
  $("#stat-cards").innerHTML = [
    ["Sessions", s.sessions], ["Escalation rate", pct(s.escalation_rate)],
    ["Latency p50", ms(s.latency.p50_ms)], ["Latency p90", ms(s.latency.p90_ms)], ["Latency p99", ms(s.latency.p99_ms)],
    ["Interrupted sessions", s.interrupted_sessions],
  ].map(([k, v]) => `<div class="card"><span>${k}</span><strong>${esc(v)}</strong></div>`).join("");
  const max = Math.max(1, ...s.per_day.map((d) => d.sessions));
  $("#per-day").innerHTML = s.per_day
    .map((d) => `<div style="height:${(100 * d.sessions) / max}%" title="${d.day}: ${d.sessions}"><span class="sr-only">${d.day}: ${d.sessions}</span></div>`)
    .join("");
  $("#tools-body").innerHTML = s.tools
    .map((t) => `<tr><td>${esc(t.tool)}</td><td>${t.calls}</td><td>${t.failures}</td><td>${pct(t.failure_rate)}</td><td>${ms(t.p50_ms)}</td><td>${ms(t.p95_ms)}</td></tr>`)
    .join("") || `<tr><td colspan="6">No tool calls.</td></tr>`;
}

async function showLive() {
  show("live");
  const sessions = await json("/api/live");
  const admin = state.me.role === "admin";
  const body = $("#live-body");
  body.innerHTML = sessions.length ? "" : `<tr><td colspan="6">No conversation in progress.</td></tr>`;
  for (const s of sessions) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td>${esc(s.session_id)}</td><td>${esc(s.customer_id || "—")}</td><td>${esc(fmtTime(s.started_at))}</td>
      <td>${esc(s.gateway || "—")}</td><td>${esc(s.upstream || "—")}</td><td></td>`;
    if (admin) {
      const button = document.createElement("button");
      button.className = "danger";
      button.textContent = "End";
      button.setAttribute("aria-label", `End session ${s.session_id}`);
      button.onclick = async () => {
        const r = await json(`/api/live/${encodeURIComponent(s.session_id)}/end`, { method: "POST" });
        say(r.gateways ? "End requested." : "No gateway holds this session any more.");
      };
      tr.lastElementChild.appendChild(button);
    }
    body.appendChild(tr);
  }
}

// -- wiring -----------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("#signin").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.auth = btoa(unescape(encodeURIComponent(`${$("#username").value}:${$("#password").value}`)));
    try {
      state.me = await json("/api/me");
    } catch (err) {
      state.auth = null;
      $("#signin-error").textContent = err instanceof Unauthorized ? "Wrong name or password." : err.message;
      return;
    }
    sessionStorage.setItem("sb-auth", state.auth);
    $("#password").value = "";
    $("#who").textContent = `${state.me.name} (${state.me.role})`;
    if (!location.hash || location.hash === "#/signin") location.hash = "#/sessions";
    else route();
  });
  $("#signout").addEventListener("click", () => signOut("Signed out."));
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = Object.fromEntries(new FormData(event.target));
    showSessions(true).catch((err) => say(err.message));
  });
  $("#more").addEventListener("click", () => showSessions(false).catch((err) => say(err.message)));
  $("#export-jsonl").addEventListener("click", () => exportAs("jsonl").catch((err) => say(err.message)));
  $("#export-csv").addEventListener("click", () => exportAs("csv").catch((err) => say(err.message)));
  $("#dash-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    showDashboard().catch((err) => say(err.message));
  });
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search($("#s-q").value).catch((err) => say(err.message));
  });
  const player = $("#player");
  for (const name of ["timeupdate", "seeked", "seeking"]) player.addEventListener(name, follow);
  player.addEventListener("canplay", () => (rec.renewed = false));
  player.addEventListener("error", () => renewTicket().catch((err) => say(err.message)));
  $("#rec-download-link").addEventListener("click", (event) => download(event).catch((err) => say(err.message)));
  window.addEventListener("hashchange", route);
  route();
});
