/* Shared helpers of the admin pages: element building (text only, never innerHTML), fetch with the session. */
"use strict";
const CSRF = document.querySelector('meta[name="csrf-token"]')?.content || "";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v; else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

async function getJSON(url) {
  const r = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
  if (r.status === 401) { location.href = "/admin/login"; throw new Error("logged out"); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || body.detail || `HTTP ${r.status}`);
  return body;
}

async function postJSON(url) {
  const r = await fetch(url, {method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": CSRF}});
  if (r.status === 401) { location.href = "/admin/login"; throw new Error("logged out"); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

function fmtDuration(s) {
  if (s === null || s === undefined) return "–";
  s = Math.max(0, Math.round(s));
  const m = Math.floor(s / 60), sec = s % 60;
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(sec).padStart(2, "0")}` : `${m}:${String(sec).padStart(2, "0")}`;
}

function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

function fmtMs(v) {
  return typeof v === "number" ? `${Math.round(v)} ms` : "–";
}
