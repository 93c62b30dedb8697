/* Live calls: a server-sent event stream sends the list whenever it changes; durations tick here. */
"use strict";
(() => {
  const tbody = document.querySelector("#live-calls tbody");
  const status = document.getElementById("live-status");
  const none = document.getElementById("no-calls");
  let calls = [];

  function render() {
    const rows = calls.map((c) => {
      const end = el("button", {type: "button", class: "danger", "data-call": c.id, disabled: c.ending,
        "aria-label": `End call from ${c.caller || "unknown caller"}`, text: c.ending ? "Ending…" : "End call"});
      end.addEventListener("click", () => endCall(c));
      return el("tr", {"data-call": c.id},
        el("td", {"data-label": "Caller"}, el("a", {href: `/admin/calls/${c.id}`, text: c.caller || "unknown"}), c.caller_name ? ` ${c.caller_name}` : ""),
        el("td", {"data-label": "Persona", text: c.persona}),
        el("td", {"data-label": "Provider", text: c.provider}),
        el("td", {"data-label": "Transport", text: c.transport}),
        el("td", {"data-label": "Duration", class: "duration", "data-started": c.started_at, text: since(c.started_at)}),
        el("td", {"data-label": "State"}, el("span", {class: `state state-${c.state}`, text: c.state})),
        el("td", {"data-label": "Last turn", text: fmtMs(c.last_latency_ms)}),
        el("td", {"data-label": "Actions"}, end));
    });
    tbody.replaceChildren(...rows);
    none.hidden = calls.length > 0;
  }

  function since(iso) {
    return iso ? fmtDuration((Date.now() - Date.parse(iso)) / 1000) : "–";
  }

  async function endCall(c) {
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
    calls = JSON.parse(ev.data).calls;
    status.textContent = `Live: ${calls.length} call${calls.length === 1 ? "" : "s"} in progress.`;
    render();
  };
  source.addEventListener("expired", () => { source.close(); location.href = "/admin/login"; });
  source.onerror = () => { status.textContent = "Connection lost; reconnecting…"; };
  setInterval(() => {
    for (const td of tbody.querySelectorAll("td.duration")) td.textContent = since(td.dataset.started);
  }, 1000);
})();
