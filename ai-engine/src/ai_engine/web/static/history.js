/* History: the call records with filters and paging (the filters live in the address, so a view can be shared). */
"use strict";
(() => {
  const form = document.getElementById("filters");
  const tbody = document.querySelector("#history tbody");
  const status = document.getElementById("history-status");
  const prev = document.getElementById("prev"), next = document.getElementById("next");
  const PAGE = 25;
  const params = new URLSearchParams(location.search);
  let offset = Number(params.get("offset") || 0);

  for (const name of ["since", "until", "caller", "persona", "outcome", "text"]) {
    if (params.get(name)) form.elements[name].value = params.get(name);
  }

  function query() {
    const q = new URLSearchParams({limit: PAGE, offset});
    for (const name of ["caller", "persona", "outcome", "text"]) {
      const v = form.elements[name].value.trim();
      if (v) q.set(name, v);
    }
    for (const name of ["since", "until"]) {  // the browser's local time, sent with its offset
      const v = form.elements[name].value;
      if (v) q.set(name, new Date(v).toISOString());
    }
    return q;
  }

  async function load() {
    status.textContent = "Loading…";
    try {
      const page = await getJSON(`/admin/api/calls?${query()}`);
      tbody.replaceChildren(...page.history.map((c) => el("tr", {"data-call": c.id},
        el("td", {"data-label": "Started"}, el("a", {href: `/admin/calls/${c.id}`, text: fmtTime(c.started_at)})),
        el("td", {"data-label": "Caller", text: `${c.caller_number || "unknown"}${c.caller_name ? " " + c.caller_name : ""}`}),
        el("td", {"data-label": "Persona", text: c.persona}),
        el("td", {"data-label": "Duration", text: fmtDuration(c.duration_s)}),
        el("td", {"data-label": "Outcome", text: c.outcome + (c.transfer_target ? ` → ${c.transfer_target}` : "")}),
        el("td", {"data-label": "Turns", text: String(c.turns)}),
        el("td", {"data-label": "Recording", text: c.recording ? "yes" : "no"}))));
      const shown = page.history.length;
      status.textContent = page.error ? page.error
        : shown ? `Calls ${offset + 1}–${offset + shown} of ${page.total}.` : "No calls match.";
      prev.disabled = offset === 0;
      next.disabled = offset + shown >= page.total;
    } catch (e) {
      status.textContent = `Could not load the history: ${e.message}`;
    }
  }

  function go() {
    const q = query();
    q.delete("limit");
    for (const name of ["since", "until"]) if (form.elements[name].value) q.set(name, form.elements[name].value);
    history.replaceState(null, "", `?${q}`);
    load();
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); offset = 0; go(); });
  form.addEventListener("reset", () => setTimeout(() => { offset = 0; go(); }));
  prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); go(); });
  next.addEventListener("click", () => { offset += PAGE; go(); });
  load();
})();
