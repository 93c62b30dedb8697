/* One call: facts, the recording, the transcript as a timeline (turns, barge-ins, tools, transfer, end), turn latency. */
"use strict";
(() => {
  const id = location.pathname.split("/").pop();
  const status = document.getElementById("call-status");

  function fact(dl, name, value) {
    if (value === null || value === undefined || value === "") return;
    dl.append(el("dt", {text: name}), el("dd", {text: String(value)}));
  }

  function json(v) {
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  function timeline(call) {
    const items = (call.transcript || []).map((t) => ({at: t.at, kind: t.role, turn: t}));
    for (const tool of call.tool_calls || []) items.push({at: tool.at, kind: "tool", tool});
    items.sort((a, b) => String(a.at).localeCompare(String(b.at)));
    const start = Date.parse(call.started_at);
    const when = (at) => at ? `+${fmtDuration((Date.parse(at) - start) / 1000)}` : "";
    const out = items.map((it) => {
      if (it.kind === "tool") {
        return el("li", {class: "event tool"}, el("span", {class: "when", text: when(it.at)}), el("strong", {text: `Tool ${it.tool.name}`}),
          el("div", {class: "code", text: `arguments: ${json(it.tool.arguments)}`}),
          el("div", {class: "code", text: `result: ${json(it.tool.result)}`}));
      }
      if (it.kind === "dtmf") {  // a keypress, when the record carries one ({"role": "dtmf", "text": digit})
        return el("li", {class: "event dtmf"}, el("span", {class: "when", text: when(it.at)}), el("strong", {text: `Caller pressed ${it.turn.text}`}));
      }
      const who = it.kind === "caller" ? "Caller" : "Agent";
      return el("li", {class: `event ${it.kind}`}, el("span", {class: "when", text: when(it.at)}), el("strong", {text: who}),
        el("p", {text: it.turn.text}),
        it.turn.interrupted ? el("span", {class: "badge", text: "interrupted by the caller (barge-in)"}) : null);
    });
    if (call.transfer_target) out.push(el("li", {class: "event transfer"}, el("strong", {text: `Transferred to ${call.transfer_target}`})));
    if (call.ended_at) out.push(el("li", {class: "event end"}, el("span", {class: "when", text: when(call.ended_at)}),
      el("strong", {text: `Ended: ${call.outcome}`}), call.end_reason && call.end_reason !== call.outcome ? ` (${call.end_reason})` : ""));
    document.getElementById("timeline").replaceChildren(...out);
  }

  async function load() {
    try {
      const call = await getJSON(`/admin/api/calls/${id}`);
      document.getElementById("call-title").textContent = `Call from ${call.caller_number || "unknown caller"}`;
      const dl = document.getElementById("call-facts");
      dl.replaceChildren();
      fact(dl, "Caller name", call.caller_name);
      fact(dl, "Extension", call.extension);
      fact(dl, "Persona", call.persona);
      fact(dl, "Provider", call.provider);
      fact(dl, "Started", fmtTime(call.started_at));
      fact(dl, "Duration", call.live ? "in progress" : fmtDuration(call.duration_s));
      fact(dl, "Outcome", call.live ? "live" : call.outcome);
      if (call.recording) {
        const audio = document.getElementById("recording");
        if (!audio.src) audio.src = call.recording;
        document.getElementById("recording-section").hidden = false;
      }
      timeline(call);
      const rows = (call.turn_latency || []).map((t, i) => el("tr", {},
        el("td", {"data-label": "Turn", text: String(i + 1)}), el("td", {"data-label": "Transcript", text: fmtMs(t.transcript_ms)}),
        el("td", {"data-label": "Response", text: fmtMs(t.response_ms)}), el("td", {"data-label": "First audio", text: fmtMs(t.first_audio_in_ms)}),
        el("td", {"data-label": "Total", text: fmtMs(t.total_ms)})));
      document.querySelector("#latency tbody").replaceChildren(...rows);
      status.textContent = call.live ? "Live call: refreshing every few seconds." : "";
      if (call.live) setTimeout(load, 3000);
    } catch (e) {
      status.textContent = `Could not load the call: ${e.message}`;
    }
  }
  load();
})();
