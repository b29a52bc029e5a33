// The student's page: one system of the room's ensemble. Plain JavaScript, no library;
// every text from the server is set with textContent (never parsed as HTML).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(window.location.search);
  const code = (params.get("room") || "").trim().toUpperCase();
  let version = -1;
  let polling = false;
  let stopped = false;
  let lastFeed = "";

  // "1 student", "2 students" (app/rooms/text.py's plural, for the card)
  function plural(k, one) { return k + " " + (k === 1 ? one : one + "s"); }
  function show(id, on) { $(id).hidden = !on; }
  function say(text) { $("message").textContent = text; show("message", !!text); }
  function heading(title, withCode) {
    $("title").textContent = title;
    $("room-code").textContent = withCode ? code : "";
  }
  // no room by this code (a typo, or it closed): the sentence, and the code form again
  function askCode(text) {
    say(text);
    heading("Join the ensemble", false);
    show("card", false);
    show("join-form", false);
    show("code-form", true);
    $("code").setAttribute("aria-invalid", text ? "true" : "false");
  }

  async function call(method, path, body) {
    const opts = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch("/room/" + encodeURIComponent(code) + path, opts);
    let data = {};
    try { data = await r.json(); } catch (e) { data = {}; }
    if (!r.ok) {
      const err = new Error(data.error || "The server did not answer; try again.");
      err.status = r.status;
      throw err;
    }
    return data;
  }

  function render(s) {
    version = s.version;
    if (s.gone) {
      if (!$("card").hidden) say("You were away for a long time, so your system left the " +
                                 "ensemble. Join again to get a new one.");
      show("card", false);
      if (s.closed) { askCode("This room has closed. Type the code of another room."); return; }
      heading("Join room", true);
      show("code-form", false);
      show("join-form", true);
      return;
    }
    say("");
    heading("You are one system of room", true);
    show("code-form", false);
    show("join-form", false);
    show("card", true);
    $("you").textContent = s.you;
    const card = $("card");
    card.dataset.t = s.t;
    const v = s.value;
    card.dataset.a = v ? String(v.a) : "";
    $("value").textContent = v ? v.label : "?";
    $("swatch").style.backgroundColor = v ? v.colour : "#9ca3af";
    $("swatch").title = v ? "colour of value " + v.label + " on the projector" : "hidden";
    const deg = Math.round(s.phi * 180 / Math.PI);
    $("needle").setAttribute("transform", "rotate(" + (-deg) + ")");
    $("arrow-label").textContent = "phase " + deg + " degrees";
    $("phase-text").textContent = "your phase: " + deg + "°";
    show("measure", s.measure_mode);
    const m = s.measured;
    show("measured", s.measure_mode && !!m);
    $("measured").textContent = m ? "Measured at t = " + m.t.toFixed(2) + ": a = " + m.label : "";
    $("status").textContent = "t = " + s.t.toFixed(2) + " · " +
      (s.closed ? "the room has closed" : s.running ? "running" : "paused") + " · " +
      plural(s.students, "student") + ", " + plural(s.N, "system");
    const feed = JSON.stringify(s.feed);
    if (feed !== lastFeed) {
      lastFeed = feed;
      const ol = $("feed");
      ol.replaceChildren(...s.feed.map((line) => {
        const li = document.createElement("li");
        li.textContent = "t = " + line.t.toFixed(1) + ": " + line.text;
        return li;
      }));
    }
  }

  async function poll() {
    if (polling) return;
    polling = true;
    let wait = 500;
    while (!stopped) {
      try {
        const s = await call("GET", "/state?since=" + version);
        render(s);
        wait = 500;
        if (s.gone) break;
      } catch (e) {
        if (e.status === 404) { askCode(e.message); break; }
        say("Connection lost; trying again…");
        await new Promise((res) => setTimeout(res, wait));
        wait = Math.min(wait * 2, 5000);
      }
    }
    polling = false;
  }

  async function start() {
    if (!code) { askCode(""); return; }
    try {
      const s = await call("GET", "/state?since=-1");
      render(s);
      if (!s.gone) poll();  // not joined yet: the join starts the polls (with the cookie)
    } catch (e) {
      if (e.status === 404) askCode(e.message); else say(e.message);
    }
  }

  $("join-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("join").disabled = true;
    try {
      render(await call("POST", "/join", { nickname: $("nick").value }));
      stopped = false;
      poll();
    } catch (e) {
      if (e.status === 404 || e.status === 409) askCode(e.message); else say(e.message);
    }
    $("join").disabled = false;
  });
  $("measure").addEventListener("click", async () => {
    try { render(await call("POST", "/measure", {})); } catch (e) { say(e.message); }
  });
  $("leave").addEventListener("click", async () => {
    stopped = true;
    try { await call("POST", "/leave", {}); } catch (e) { /* gone already */ }
    show("card", false);
    say("You left the room. Thank you for being part of the ensemble!");
  });
  start();
})();
