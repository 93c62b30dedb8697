/* Health: ARI, listeners, providers, the last hour's calls and latency, the last doctor run. */
"use strict";
(() => {
  const status = document.getElementById("health-status");

  function check(ok, name, detail) {
    return el("li", {class: ok ? "ok" : "bad"}, el("span", {class: "mark", text: ok ? "OK" : "FAIL"}), ` ${name}`,
      detail ? el("span", {class: "detail", text: ` ${detail}`}) : null);
  }

  async function load() {
    status.textContent = "Loading…";
    try {
      const h = await getJSON("/admin/api/health");
      document.getElementById("connections").replaceChildren(
        check(h.ari.connected, "ARI", `${h.ari.url} (app ${h.ari.app})`),
        ...h.listeners.map((l) => check(l.ok, l.name, l.detail)),
        check(h.media_writable, "Media folder", "writable"),
        el("li", {class: "info", text: `Transport: ${h.transport}. Active calls: ${h.active_calls}.`}));
      document.getElementById("providers").replaceChildren(...Object.entries(h.providers).map(([name, p]) =>
        check(p.ready, name, p.ready ? "ready" : (p.reason || "not ready"))));
      const hour = document.getElementById("last-hour");
      hour.replaceChildren();
      const add = (k, v) => hour.append(el("dt", {text: k}), el("dd", {text: v}));
      if (h.last_hour.available) {
        add("Calls", String(h.last_hour.calls));
        add("Outcomes", Object.entries(h.last_hour.outcomes).map(([k, v]) => `${k}: ${v}`).join(", ") || "–");
        add("Agent turns", String(h.last_hour.turns));
        add("Turn latency p50", fmtMs(h.last_hour.p50_ms));
        add("Turn latency p95", fmtMs(h.last_hour.p95_ms));
      } else add("Records", h.last_hour.reason);
      const doc = h.doctor;
      document.getElementById("doctor-when").textContent = doc ? `Run at ${fmtTime(doc.at)}.` : "No doctor run yet: run `make doctor` (ai-agent doctor).";
      document.getElementById("doctor").replaceChildren(...(doc ? doc.checks : []).map((c) =>
        el("li", {class: c.status === "PASS" ? "ok" : c.status === "FAIL" ? "bad" : "info"}, el("span", {class: "mark", text: c.status}),
          ` ${c.name}`, el("span", {class: "detail", text: ` ${c.detail}${c.status === "FAIL" && c.fix ? " — fix: " + c.fix : ""}`}))));
      const ok = h.ari.connected && h.listeners.every((l) => l.ok) && Object.values(h.providers).every((p) => p.ready);
      status.textContent = ok ? "All ready." : "Something needs attention.";
    } catch (e) {
      status.textContent = `Could not load health: ${e.message}`;
    }
  }
  document.getElementById("refresh").addEventListener("click", load);
  load();
})();
