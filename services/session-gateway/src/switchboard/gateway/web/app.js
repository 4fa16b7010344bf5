// The voice page: pick a demo customer (development mode), press talk, speak; hear and read the
// answer, see what the bot looked up. Speaks the GA Realtime protocol to the gateway's
// /v1/realtime with a single-use client secret, plus Switchboard display events. A call whose
// socket drops (1006) or whose gateway is drained (1012) resumes by itself: "Reconnecting…", a
// resume secret for the session id of session.created, and the same conversation goes on.
import { Microphone, Player, base64ToInt16, pcm16ToBase64 } from "./audio.js";
import {
  completeCard, decideCard, expireCard, isPendingAction, isWaiting, pendingCard, runningCard, supersedeCard,
} from "./cards.js";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"), talk: $("talk"), talkLabel: $("talk-label"), customer: $("customer"),
  customerField: $("customer-field"), customerOrders: $("customer-orders"), productionNote: $("production-note"),
  activity: $("activity"), error: $("error"), transcript: $("transcript"), sessionId: $("session-id"),
};

const call = {
  ws: null, context: null, mic: null, player: null, state: "idle",
  bubbles: new Map(), // item_id → <li>
  cards: new Map(), // call_id → <li>
  pending: new Map(), // action_id → the pending change's <li>
  decisions: new Map(), // call_id of a confirm_action / cancel_action → action_id
  customers: [],
  presetSecret: new URLSearchParams(location.hash.slice(1)).get("secret"),
  sessionId: null, // the Switchboard session id (session.created's session.id)
  resumes: 0,
};
// Close codes after which the call resumes: the connection was lost, or the gateway restarts.
const RESUME_CODES = new Set([1006, 1012]);
const MAX_RESUMES = 3;
// How long one resume keeps trying to get a resume secret while the network is still down
// (backing off from 0.2 s to 1 s, each pause jittered down to half), as `switchboard call` does.
const RESUME_WITHIN_MS = 15000;
// Refusals a retry cannot change: another customer's, unknown, ended or expired conversation.
const PERMANENT_REFUSALS = new Set([403, 404, 409, 410]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Exposed for tests and for curious developers: read-only view of what happened.
window.switchboardVoice = { call, events: [] };

function setState(state, text) {
  call.state = state;
  ui.status.dataset.state = state;
  ui.status.textContent = text;
  document.body.dataset.callState = state;
  const active = state === "connecting" || state === "live" || state === "reconnecting";
  ui.talk.setAttribute("aria-pressed", String(active));
  ui.talkLabel.textContent = active ? "End call" : "Start talking";
  ui.customer.disabled = active;
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}

function activity(text) {
  ui.activity.textContent = text;
}

function append(node) {
  const empty = ui.transcript.querySelector(".empty");
  if (empty) empty.remove();
  ui.transcript.append(node);
  node.scrollIntoView({ block: "nearest", behavior: "smooth" });
  return node;
}

function bubble(itemId, who) {
  let li = call.bubbles.get(itemId);
  if (!li) {
    li = document.createElement("li");
    li.className = `msg ${who} pending`;
    li.dataset.itemId = itemId;
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who === "you" ? "You" : "Assistant";
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = who === "you" ? "…" : "";
    li.append(label, text);
    call.bubbles.set(itemId, li);
    append(li);
  }
  return li;
}

function setText(li, text, { final = false, add = false } = {}) {
  const node = li.querySelector(".text");
  node.textContent = add ? node.textContent + text : text;
  if (final) li.classList.remove("pending");
}

// -- customers and secrets --------------------------------------------------------------------

async function loadCustomers() {
  if (call.presetSecret) {
    ui.talk.disabled = false;
    return;
  }
  try {
    const response = await fetch("dev/customers");
    if (response.status === 404) {
      ui.productionNote.hidden = false;
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    call.customers = await response.json();
  } catch (err) {
    showError(`Could not load the demo customers: ${err.message}`);
    return;
  }
  for (const c of call.customers) {
    const option = document.createElement("option");
    option.value = c.customer_id;
    option.textContent = `${c.name} (${c.customer_id})`;
    ui.customer.append(option);
  }
  ui.customerField.hidden = false;
  ui.talk.disabled = false;
  describeCustomer();
}

function describeCustomer() {
  const c = call.customers.find((x) => x.customer_id === ui.customer.value);
  ui.customerOrders.textContent = c && c.orders.length
    ? `Orders to ask about: ${c.orders.map((o) => `${o.order_id} (${o.status.replace(/_/g, " ")})`).join(", ")}`
    : "";
}

async function mintSecret(resumeSessionId = null) {
  if (call.presetSecret && !resumeSessionId) {
    const secret = call.presetSecret;
    call.presetSecret = null; // single use
    history.replaceState(null, "", location.pathname + location.search);
    return secret;
  }
  const response = await fetch("dev/client_secrets", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(
      resumeSessionId ? { customer_id: ui.customer.value, resume_session_id: resumeSessionId } : { customer_id: ui.customer.value },
    ),
  });
  if (!response.ok) {
    const err = new Error(`the gateway refused a client secret (HTTP ${response.status})`);
    err.permanent = PERMANENT_REFUSALS.has(response.status);
    throw err;
  }
  const body = await response.json();
  return body.value;
}

// -- the call ---------------------------------------------------------------------------------

function send(event) {
  if (call.ws && call.ws.readyState === WebSocket.OPEN) call.ws.send(JSON.stringify(event));
}

async function start() {
  clearError();
  setState("connecting", "Connecting…");
  try {
    call.context = makeContext();
    await call.context.resume();
    call.player = new Player(call.context);
    call.sessionId = null;
    call.resumes = 0;
    openSocket(await mintSecret());
  } catch (err) {
    fail(`Could not start the call: ${err.message}`);
  }
}

function openSocket(secret) {
  const url = new URL("v1/realtime", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("switchboard_events", "1");
  const ws = new WebSocket(url, ["realtime", `openai-insecure-api-key.${secret}`]);
  call.ws = ws;
  ws.onmessage = (message) => onEvent(JSON.parse(message.data));
  ws.onclose = (e) => onClose(e);
  ws.onerror = () => { /* the close event says what happened */ };
}

// The socket dropped or the gateway handed the call over: resume the same conversation.
async function reconnect(code) {
  if (call.mic) call.mic.stop();
  if (call.player) call.player.stop();
  call.mic = null;
  call.ws = null;
  call.resumes += 1;
  setState("reconnecting", "Reconnecting…");
  activity(code === 1012 ? "The server is restarting; resuming the call" : "Connection lost; resuming the call");
  const giveUpAt = Date.now() + RESUME_WITHIN_MS;
  let delay = 200;
  for (;;) {
    try {
      const secret = await mintSecret(call.sessionId);
      if (call.state !== "reconnecting") return; // hung up meanwhile
      openSocket(secret);
      return;
    } catch (err) {
      if (call.state !== "reconnecting") return;
      if (err.permanent || Date.now() + delay > giveUpAt) {
        fail(`Could not resume the call: ${err.message}`);
        return;
      }
      await sleep(delay * (0.5 + Math.random() / 2));
      delay = Math.min(delay * 2, 1000);
    }
  }
}

// A 24 kHz context lets the browser's own high-quality resampler convert the microphone (and
// the replies need no resampling); browsers that cannot open one get their native rate and the
// worklet resamples.
function makeContext() {
  try {
    return new AudioContext({ sampleRate: 24000, latencyHint: "interactive" });
  } catch (_) {
    return new AudioContext({ latencyHint: "interactive" });
  }
}

async function startMicrophone() {
  const onChunk = (buffer) => send({ type: "input_audio_buffer.append", audio: pcm16ToBase64(buffer) });
  try {
    call.mic = new Microphone(call.context, onChunk);
    try {
      await call.mic.start();
    } catch (err) {
      if (!err.rateMismatch) throw err;
      await call.context.close();
      call.context = new AudioContext({ latencyHint: "interactive" });
      call.player = new Player(call.context);
      call.mic = new Microphone(call.context, onChunk);
      await call.mic.start();
    }
  } catch (err) {
    const why = err.name === "NotAllowedError" ? "microphone permission was denied" : err.message;
    fail(`Could not use the microphone: ${why}`);
    return;
  }
  setState("live", "Connected — speak now");
  activity("Listening");
}

function stop(reason) {
  if (call.mic) call.mic.stop();
  if (call.player) call.player.stop();
  if (call.ws && call.ws.readyState <= WebSocket.OPEN) call.ws.close(1000, reason || "caller hung up");
  if (call.context) call.context.close();
  call.mic = call.player = call.context = call.ws = null;
}

function fail(message) {
  showError(message);
  stop("client error");
  setState("error", "Call failed");
  activity("");
}

function onClose(event) {
  if (event.target !== call.ws) return; // a socket already replaced
  const wasLive = call.state === "live" || call.state === "connecting" || call.state === "reconnecting";
  if (wasLive && RESUME_CODES.has(event.code) && call.sessionId && call.resumes < MAX_RESUMES) {
    reconnect(event.code);
    return;
  }
  stop();
  if (event.code === 1000 || event.code === 1005 || !wasLive) {
    setState("idle", "Call ended");
  } else {
    const reasons = {
      1006: "the connection was lost",
      1008: "the server refused this call (expired or already used secret?)",
      1011: "the server had an internal error",
      1013: "the service is busy, try again shortly",
    };
    showError(`The call ended: ${event.reason || reasons[event.code] || `close code ${event.code}`}`);
    setState("error", "Disconnected");
  }
  activity("");
}

function bargeIn() {
  if (!call.player || !call.player.playing) return;
  const cut = call.player.stop();
  if (!cut) return;
  const heard = Math.min(cut.heardMs, cut.receivedMs);
  if (heard > 0) {
    send({ type: "conversation.item.truncate", item_id: cut.itemId, content_index: cut.contentIndex, audio_end_ms: heard });
  }
  const li = call.bubbles.get(cut.itemId);
  if (li) markInterrupted(li);
}

function markInterrupted(li) {
  if (li.querySelector(".cut")) return;
  const note = document.createElement("span");
  note.className = "cut";
  note.textContent = "(interrupted)";
  li.append(note);
  li.classList.remove("pending");
  li.dataset.interrupted = "true";
}

function onEvent(event) {
  window.switchboardVoice.events.push(event.type);
  switch (event.type) {
    case "session.created":
      call.sessionId = (event.session && event.session.id) || call.sessionId;
      startMicrophone();
      break;
    case "switchboard.session":
      ui.sessionId.textContent = `Reference: ${event.session_id}`;
      break;
    case "input_audio_buffer.speech_started":
      bargeIn();
      bubble(event.item_id, "you");
      activity("Listening…");
      break;
    case "input_audio_buffer.speech_stopped":
      activity("Thinking…");
      break;
    case "conversation.item.input_audio_transcription.delta": {
      const li = bubble(event.item_id, "you");
      const first = li.querySelector(".text").textContent === "…";
      setText(li, event.delta, { add: !first });
      break;
    }
    case "conversation.item.input_audio_transcription.completed":
      setText(bubble(event.item_id, "you"), event.transcript || "(inaudible)", { final: true });
      break;
    case "conversation.item.input_audio_transcription.failed":
      setText(bubble(event.item_id, "you"), "(could not make that out)", { final: true });
      break;
    case "response.output_audio_transcript.delta":
    case "response.output_text.delta":
      setText(bubble(event.item_id, "bot"), event.delta, { add: true });
      break;
    case "response.output_audio_transcript.done":
      setText(bubble(event.item_id, "bot"), event.transcript, { final: true });
      break;
    case "response.output_text.done":
      setText(bubble(event.item_id, "bot"), event.text, { final: true });
      break;
    case "response.output_audio.delta":
      if (call.player) call.player.enqueue(event.item_id, event.content_index || 0, base64ToInt16(event.delta));
      activity("Speaking");
      break;
    case "response.done":
      activity("Listening");
      break;
    case "conversation.item.truncated": {
      const li = call.bubbles.get(event.item_id);
      if (li) markInterrupted(li);
      break;
    }
    case "switchboard.tool.started": {
      if (DECISIONS.has(event.tool)) {
        // settles a pending change's card; no card of its own
        const match = /\bpa_[A-Za-z0-9_-]+/.exec(event.summary || "");
        if (match) call.decisions.set(event.call_id, match[0]);
        activity(event.tool === "confirm_action" ? "Making the change…" : "Cancelling the change…");
        break;
      }
      const card = append(runningCard(event));
      call.cards.set(event.call_id, card);
      activity(event.summary || "Looking that up…");
      break;
    }
    case "switchboard.tool.completed":
      toolCompleted(event);
      break;
    case "error": {
      const e = event.error || {};
      showError(`${e.message || "Something went wrong."}${e.code ? ` (${e.code})` : ""}`);
      break;
    }
    default:
      break;
  }
}

const DECISIONS = new Set(["confirm_action", "cancel_action"]);

function toolCompleted(event) {
  if (DECISIONS.has(event.tool)) {
    const actionId = (event.card && event.card.action_id) || call.decisions.get(event.call_id) || latestWaiting();
    call.decisions.delete(event.call_id);
    const card = call.pending.get(actionId);
    if (card) {
      decideCard(card, event);
      return;
    }
  }
  let card = call.cards.get(event.call_id);
  if (!card) card = append(runningCard(event));
  if (event.ok && isPendingAction(event.card)) {
    // the worker supersedes the conversation's earlier pending changes: so does the page
    for (const earlier of call.pending.values()) supersedeCard(earlier);
    pendingCard(card, event.card);
    call.pending.set(event.card.action_id, card);
    expireLater(card, event.card.expires_at);
    return;
  }
  completeCard(card, event);
}

function latestWaiting() {
  let latest = null;
  for (const [actionId, card] of call.pending) if (isWaiting(card)) latest = actionId;
  return latest;
}

function expireLater(card, expiresAt) {
  const ms = new Date(expiresAt).getTime() - Date.now();
  if (Number.isNaN(ms)) return;
  setTimeout(() => expireCard(card), Math.max(0, ms) + 500);
}

ui.talk.addEventListener("click", () => {
  if (call.state === "live" || call.state === "connecting" || call.state === "reconnecting") {
    stop("caller hung up");
    setState("idle", "Call ended");
    activity("");
  } else {
    start();
  }
});
ui.customer.addEventListener("change", describeCustomer);
window.addEventListener("pagehide", () => stop("page closed"));
setState("idle", "Not connected");
loadCustomers();
