/* Live calls: a server-sent event stream sends the list whenever it changes; durations tick here. */
"use strict";
(() => {
  const tbody = document.querySelector("#live-calls tbody");
  const status = document.getElementById("live-status");
  const none = document.getElementById("no-calls");
  let calls = [];
  let skewMs = 0;  // server clock minus this browser's: durations count on the server's clock

  // Rows are updated in place, keyed by call: a focused "End call" button keeps the keyboard focus.
  const rows = new Map();

  function newRow(c) {
    const end = el("button", {type: "button", class: "danger"});
    end.addEventListener("click", () => endCall(c.id));
    const cell = (label, cls) => el("td", {"data-label": label, class: cls});
    const tr = el("tr", {"data-call": c.id},
      cell("Caller"), cell("Persona"), cell("Provider"), cell("Transport"), cell("Duration", "duration"),
      cell("State"), cell("Last turn"), el("td", {"data-label": "Actions"}, end));
    return {tr, end};
  }

  function fill(row, c) {
    const [caller, persona, provider, transport, duration, state, latency] = row.tr.children;
    caller.replaceChildren(el("a", {href: `/admin/calls/${c.id}`, text: c.caller || "unknown"}), c.caller_name ? ` ${c.caller_name}` : "");
    persona.textContent = c.persona;
    provider.textContent = c.provider;
    transport.textContent = c.transport;
    duration.dataset.started = c.started_at;
    duration.textContent = since(c.started_at);
    state.replaceChildren(el("span", {class: `state state-${c.state}`, text: c.state}));
    latency.textContent = fmtMs(c.last_latency_ms);
    row.end.disabled = c.ending;
    row.end.textContent = c.ending ? "Ending…" : "End call";
    row.end.setAttribute("aria-label", `End call from ${c.caller || "unknown caller"}`);
  }

  function render() {
    const live = new Set(calls.map((c) => c.id));
    for (const [id, row] of rows) if (!live.has(id)) { row.tr.remove(); rows.delete(id); }
    for (const c of calls) {
      if (!rows.has(c.id)) { rows.set(c.id, newRow(c)); tbody.append(rows.get(c.id).tr); }
      fill(rows.get(c.id), c);
    }
    none.hidden = calls.length > 0;
  }

  function since(iso) {
    return iso ? fmtDuration((Date.now() + skewMs - Date.parse(iso)) / 1000) : "–";
  }

  async function endCall(id) {
    const c = calls.find((x) => x.id === id);
    if (!c) return;
    if (!window.confirm(`End the call from ${c.caller || "unknown caller"} now? The caller is hung up.`)) return;
    try {
      await postJSON(`/admin/api/calls/${c.id}/end`);
      status.textContent = `Ending the call from ${c.caller || "unknown caller"}.`;
    } catch (e) {
      status.textContent = `Could not end the call: ${e.message}`;
    }
  }

  const source = new EventSource("/admin/api/live");
  source.onopen = () => { status.textContent = "Live: updates as calls change."; };
  source.onmessage = (ev) => {
    const snapshot = JSON.parse(ev.data);
    calls = snapshot.calls;
    skewMs = Date.parse(snapshot.now) - Date.now();
    status.textContent = `Live: ${calls.length} call${calls.length === 1 ? "" : "s"} in progress.`;
    render();
  };
  source.addEventListener("expired", () => { source.close(); location.href = "/admin/login"; });
  source.onerror = () => { status.textContent = "Connection lost; reconnecting…"; };
  setInterval(() => {
    for (const td of tbody.querySelectorAll("td.duration")) td.textContent = since(td.dataset.started);
  }, 1000);
})();
