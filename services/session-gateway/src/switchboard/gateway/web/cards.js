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
