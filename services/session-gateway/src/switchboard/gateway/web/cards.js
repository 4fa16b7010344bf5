// Tool cards: what the bot looked up or did, from Switchboard's display events. The card data
// is the tool's own output (already shaped for a shopper by the worker); unknown tools get a
// plain list of their fields. Everything is written with textContent (never innerHTML).

const TITLES = {
  check_order_status: "Order status",
  track_shipment: "Shipment tracking",
  list_recent_orders: "Your recent orders",
  process_return: "Return started",
  cancel_order: "Order cancelled",
  update_shipping_address: "Shipping address changed",
  escalate_to_human: "Support ticket opened",
  schedule_callback: "Callback booked",
  get_customer_info: "Your account",
  update_account_info: "Account updated",
  get_product_info: "Product",
};

const LABELS = {
  order_id: "Order", status: "Status", placed_on: "Order date", estimated_delivery: "Estimated delivery",
  delivered_on: "Delivered", cancelled_on: "Cancelled", returned_on: "Returned", total: "Total",
  items: "Items", return_id: "Return", return_status: "Return status", refund_estimate: "Refund",
  refund: "Refund", refund_to: "Refunded to", drop_off_by: "Drop off by", label_url: "Return label",
  instructions: "Instructions", carrier: "Carrier", tracking_number: "Tracking number",
  shipped_on: "Shipped", last_location: "Last seen", ticket_id: "Ticket", priority: "Priority",
  expected_response: "Expected reply", callback_id: "Callback", scheduled_for: "When", phone: "Phone",
  reason: "Reason", shipping_address: "New address", previous_address: "Previous address",
};

// Fields shown first, per tool; the rest follow in the order the tool gave them.
const ORDER = {
  check_order_status: ["order_id", "status", "placed_on", "estimated_delivery", "delivered_on", "total", "items"],
  process_return: ["return_id", "order_id", "refund_estimate", "drop_off_by", "items", "label_url", "instructions"],
  cancel_order: ["order_id", "status", "refund", "refund_to"],
  escalate_to_human: ["ticket_id", "priority", "status", "expected_response"],
  track_shipment: ["order_id", "carrier", "tracking_number", "status", "estimated_delivery", "last_location"],
};

const GOOD = new Set(["delivered", "open", "cancelled", "returned", "created", "scheduled", "refunded"]);
const WAIT = new Set(["placed", "packed", "shipped", "out_for_delivery", "in_transit", "requested", "pending", "high", "normal"]);

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

const DAY = new Intl.DateTimeFormat("en-US", { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" });
const DAY_TIME = new Intl.DateTimeFormat("en-US", { year: "numeric", month: "long", day: "numeric", hour: "numeric", minute: "2-digit" });

// "2026-10-29" → "October 29, 2026" (as the order-status template of the original demo shows it)
function formatDate(value) {
  if (value.length === 10) return DAY.format(new Date(`${value}T00:00:00Z`));
  const when = new Date(value);
  return Number.isNaN(when.getTime()) ? value : DAY_TIME.format(when);
}

function words(value) {
  return String(value).replace(/_/g, " ");
}

function renderValue(key, value) {
  if (value === null || value === undefined || value === "") return null;
  if (key === "status" || key === "return_status" || key === "priority") {
    const v = String(value).toLowerCase();
    const tone = GOOD.has(v) ? "good" : WAIT.has(v) ? "wait" : "bad";
    return el("span", `badge ${tone}`, words(value));
  }
  if (key === "order_id") return el("span", null, `#${value}`);
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}(T[\d:]+([+-][\d:]+|Z)?)?$/.test(value)) {
    return el("span", null, formatDate(value));
  }
  if (key === "label_url" && /^https?:\/\//.test(String(value))) {
    const a = el("a", null, "Download label");
    a.href = String(value);
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    return a;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return null;
    const list = el("ul");
    for (const entry of value.slice(0, 6)) {
      if (entry && typeof entry === "object") {
        const name = entry.name || entry.status || entry.order_id || JSON.stringify(entry);
        const qty = entry.quantity && entry.quantity > 1 ? ` × ${entry.quantity}` : "";
        const extra = entry.location ? ` — ${entry.location}` : entry.status && entry.order_id ? ` — ${words(entry.status)}` : "";
        list.append(el("li", null, `${typeof name === "number" ? `#${name}` : name}${qty}${extra}`));
      } else {
        list.append(el("li", null, String(entry)));
      }
    }
    if (value.length > 6) list.append(el("li", null, `and ${value.length - 6} more`));
    return list;
  }
  if (typeof value === "object") return el("span", null, Object.values(value).join(", "));
  if (typeof value === "boolean") return el("span", null, value ? "yes" : "no");
  return el("span", null, String(value));
}

function fillList(dl, tool, card) {
  const keys = [...(ORDER[tool] || []).filter((k) => k in card), ...Object.keys(card).filter((k) => !(ORDER[tool] || []).includes(k))];
  for (const key of keys) {
    if (key === "history" || key === "replayed") continue;
    const rendered = renderValue(key, card[key]);
    if (!rendered) continue;
    dl.append(el("dt", null, LABELS[key] || words(key)));
    const dd = el("dd");
    dd.append(rendered);
    dl.append(dd);
  }
}

// A card for a running tool call (from switchboard.tool.started).
export function runningCard(event) {
  const card = el("li", "card running");
  card.dataset.callId = event.call_id;
  card.dataset.tool = event.tool;
  card.append(el("h3", null, TITLES[event.tool] || words(event.tool)));
  card.append(el("p", "hint", event.summary || "Working on it"));
  return card;
}

// Fill a card with the outcome (from switchboard.tool.completed).
export function completeCard(card, event) {
  card.className = `card ${event.ok ? "done" : "failed"}`;
  card.dataset.tool = event.tool;
  card.replaceChildren(el("h3", null, event.ok ? TITLES[event.tool] || words(event.tool) : `Could not complete: ${(TITLES[event.tool] || words(event.tool)).toLowerCase()}`));
  if (event.ok && event.card && typeof event.card === "object" && !event.card.error) {
    const dl = el("dl");
    fillList(dl, event.tool, event.card);
    card.append(dl);
  } else {
    const message = (event.card && event.card.error) || event.summary || "The request failed.";
    card.append(el("p", null, typeof message === "string" ? message : JSON.stringify(message)));
  }
  return card;
}

// -- changes waiting for the customer's yes (two-phase tools) ----------------------------------
// A data-changing tool first answers with a PendingAction (status "needs_confirmation"): nothing
// has changed yet. Its card says what would change and waits; a later confirm_action or
// cancel_action for the same action_id (or the clock) settles it.

const PROPOSALS = {
  cancel_order: "Cancel this order?",
  process_return: "Start this return?",
  update_shipping_address: "Change the shipping address?",
  update_account_info: "Change your account details?",
  schedule_callback: "Book this callback?",
};

const TIME = new Intl.DateTimeFormat("en-US", { hour: "numeric", minute: "2-digit", second: "2-digit" });

export function isPendingAction(card) {
  return Boolean(card && typeof card === "object" && card.status === "needs_confirmation" && card.action_id);
}

function changeValue(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

function setState(card, state, text, { tone } = {}) {
  card.dataset.state = state;
  card.classList.remove("waiting", "confirmed", "cancelled", "expired", "refused", "superseded");
  card.classList.add(state);
  const line = card.querySelector(".state");
  line.replaceChildren(el("span", `badge ${tone || "wait"}`, text.badge), document.createTextNode(` ${text.detail}`));
}

// Turn *card* into the pending change *pending* (the tool's PendingAction output).
export function pendingCard(card, pending) {
  card.className = "card pending";
  card.dataset.tool = pending.tool;
  card.dataset.actionId = pending.action_id;
  card.dataset.expiresAt = pending.expires_at;
  card.replaceChildren(el("h3", null, PROPOSALS[pending.tool] || `${words(pending.tool)}?`));
  card.append(el("p", "read-back", pending.read_back));
  if (Array.isArray(pending.changes) && pending.changes.length) {
    const dl = el("dl", "changes");
    for (const change of pending.changes) {
      dl.append(el("dt", null, words(change.field)));
      const dd = el("dd");
      dd.append(el("span", "before", changeValue(change.before)), el("span", "arrow", " → "), el("span", "after", changeValue(change.after)));
      dl.append(dd);
    }
    card.append(dl);
  }
  card.append(el("p", "state"));
  card.append(el("p", "notice"));
  card.querySelector(".notice").hidden = true;
  const when = new Date(pending.expires_at);
  const until = Number.isNaN(when.getTime()) ? "" : ` (expires at ${TIME.format(when)})`;
  setState(card, "waiting", { badge: "waiting for your yes", detail: `Nothing has changed yet${until}.` });
  return card;
}

export function isWaiting(card) {
  return card.dataset.state === "waiting";
}

// The pending change was not confirmed in time (the page's clock, or the worker said so).
export function expireCard(card) {
  if (!isWaiting(card)) return card;
  setState(card, "expired", { badge: "expired", detail: "Nothing was changed; ask again to start over." }, { tone: "bad" });
  return card;
}

// A newer change was proposed in the same conversation: this one can no longer be confirmed.
export function supersedeCard(card) {
  if (!isWaiting(card)) return card;
  setState(card, "superseded", { badge: "replaced", detail: "Replaced by a newer request; nothing was changed." }, { tone: "bad" });
  return card;
}

function notice(card, text) {
  const node = card.querySelector(".notice");
  node.textContent = text;
  node.hidden = false;
}

// Settle the pending change *card* with a confirm_action / cancel_action completion *event*.
export function decideCard(card, event) {
  card.querySelector(".notice").hidden = true;
  if (event.ok && event.card && event.card.status === "confirmed") {
    const tool = event.card.tool || card.dataset.tool;
    card.querySelector("h3").textContent = TITLES[tool] || words(tool);
    setState(card, "confirmed", { badge: "confirmed", detail: "Done, after your yes." }, { tone: "good" });
    const result = event.card.result;
    if (result && typeof result === "object") {
      const dl = el("dl", "result");
      fillList(dl, tool, result);
      card.querySelector(".state").after(dl);
    }
    return card;
  }
  if (event.ok) {
    setState(card, "cancelled", { badge: "cancelled", detail: "You said no; nothing was changed." }, { tone: "bad" });
    return card;
  }
  const code = event.error_code;
  if (code === "expired") {
    expireCard(card);
    if (event.summary) notice(card, event.summary);
    return card;
  }
  if (code === "awaiting_customer") {
    // still waiting: the assistant tried to confirm before the customer answered
    notice(card, "The assistant tried to confirm before you answered; still waiting for your yes.");
    return card;
  }
  if (code === "verification_required") {
    setState(card, "refused", { badge: "not allowed on this call", detail: "This change needs a verified caller; nothing was changed." }, { tone: "bad" });
    return card;
  }
  notice(card, `Could not complete: ${event.summary || code || "the request failed"}`);
  return card;
}
