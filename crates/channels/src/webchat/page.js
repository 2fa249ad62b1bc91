"use strict";
(() => {
  const config = JSON.parse(document.getElementById("chat-config").textContent);
  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const form = $("composer");
  const input = $("message");
  const sendButton = $("send");
  const typing = $("typing");
  const errorBox = $("error");
  const ended = $("ended");
  const eventButton = $("event-button");
  const storageKey = "turnstile-chat:" + config.project;
  // The server's rule for user ids (1–128 characters, no spaces): a stored id that breaks it
  // (edited by hand) is replaced rather than sent to fail.
  const validId = /^[^\s]{1,128}$/;

  let userID = null;
  let over = false;
  // Turns run one at a time, in the order the user asked for them.
  const queue = [];
  let running = false;
  // Bumped by a restart, so that a turn still streaming draws nothing into the new conversation.
  let generation = 0;
  let choices = [];
  let noReplyAfter = 0;
  let noReplyTimer = null;

  function newUserID() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function remember(id) {
    try {
      localStorage.setItem(storageKey, id);
    } catch (_) {
      // Storage can be off (private windows, blocked cookies): the id then lives as long as the page.
    }
  }

  function recall() {
    try {
      const id = localStorage.getItem(storageKey);
      return id && validId.test(id) ? id : null;
    } catch (_) {
      return null;
    }
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function show(node) {
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
  }

  function say(who, text) {
    show(element("p", "msg " + who, text));
  }

  function image(src, alt) {
    const img = element("img", "image");
    img.src = src;
    img.alt = alt || "Image from the agent";
    img.loading = "lazy";
    return img;
  }

  function buttonRow(buttons) {
    const group = element("div", "choices");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Choices");
    for (const button of buttons || []) {
      if (!button || typeof button.name !== "string" || !button.request) continue;
      const node = element("button", null, button.name);
      node.type = "button";
      node.addEventListener("click", () => send(button.request, button.name));
      group.appendChild(node);
      choices.push({ name: button.name, request: button.request, node });
    }
    return group;
  }

  function card(payload) {
    const node = element("article", "card");
    if (typeof payload.imageUrl === "string" && payload.imageUrl) {
      node.appendChild(image(payload.imageUrl, payload.title));
    }
    if (payload.title) node.appendChild(element("p", "title", String(payload.title)));
    const description = payload.description && payload.description.text;
    if (description) node.appendChild(element("p", null, String(description)));
    if (Array.isArray(payload.buttons) && payload.buttons.length) {
      node.appendChild(buttonRow(payload.buttons));
    }
    return node;
  }

  function render(trace) {
    const payload = trace.payload || {};
    switch (trace.type) {
      case "text":
      case "speak":
        if (typeof payload.message === "string" && payload.message) say("bot", payload.message);
        break;
      case "visual":
        if (typeof payload.image === "string" && payload.image) show(image(payload.image));
        break;
      case "choice":
        if (Array.isArray(payload.buttons) && payload.buttons.length) show(buttonRow(payload.buttons));
        break;
      case "cardV2":
        show(card(payload));
        break;
      case "carousel": {
        const row = element("div", "carousel");
        for (const item of Array.isArray(payload.cards) ? payload.cards : []) row.appendChild(card(item));
        show(row);
        break;
      }
      case "no-reply":
        if (typeof payload.timeout === "number" && payload.timeout > 0) noReplyAfter = payload.timeout;
        break;
      case "end":
        finish();
        break;
      default:
        // Other traces (paths, custom actions) are for programs, not people.
        break;
    }
  }

  // Buttons of earlier turns would answer questions that are no longer asked.
  function retireChoices() {
    for (const choice of choices) choice.node.disabled = true;
    choices = [];
  }

  function setBusy(busy) {
    typing.hidden = !busy;
    log.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function finish() {
    over = true;
    queue.length = 0;
    retireChoices();
    clearTimeout(noReplyTimer);
    noReplyAfter = 0;
    input.disabled = true;
    sendButton.disabled = true;
    eventButton.disabled = true;
    ended.hidden = false;
    $("start-over").focus();
  }

  function send(request, echo) {
    if (over) return;
    clearTimeout(noReplyTimer);
    noReplyAfter = 0;
    retireChoices();
    errorBox.hidden = true;
    if (echo) say("user", echo);
    queue.push({ request, generation });
    if (!running) pump();
  }

  async function pump() {
    running = true;
    while (queue.length) {
      const turn = queue.shift();
      setBusy(true);
      try {
        await stream(turn.request, turn.generation);
      } catch (error) {
        if (turn.generation === generation) showError(error.message || String(error));
      }
    }
    running = false;
    setBusy(false);
    if (noReplyAfter && !over) {
      noReplyTimer = setTimeout(() => send({ type: "no-reply" }), noReplyAfter * 1000);
    }
  }

  async function errorOf(response) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      if (body && body.data) detail = body.data;
    } catch (_) {
      // Not JSON (a proxy's page): the status line says enough.
    }
    return new Error("Error " + response.status + ": " + detail);
  }

  // One turn over Server-Sent Events: `trace` events as they are produced, then `end` (or
  // `error`). EventSource cannot POST, so the response body is read and split by hand.
  async function stream(request, turnGeneration) {
    const path = encodeURIComponent(config.project) + "/user/" + encodeURIComponent(userID) + "/stream";
    let response;
    try {
      response = await fetch(new URL(path, location.href), {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ action: request }),
      });
    } catch (_) {
      throw new Error("Could not reach the chat server. Check your connection and try again.");
    }
    if (!response.ok) throw await errorOf(response);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (_) {
        break;
      }
      const { value, done } = chunk;
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r/g, "");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (handle(block, turnGeneration)) return;
      }
    }
    throw new Error("The connection closed before the answer was complete. Please try again.");
  }

  // Returns true at the end of the turn.
  function handle(block, turnGeneration) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    }
    if (name === "trace") {
      if (turnGeneration === generation) render(JSON.parse(data.join("\n")));
      return false;
    }
    if (name === "end") return true;
    if (name === "error") {
      let message = "The turn failed.";
      try {
        message = JSON.parse(data.join("\n")).data || message;
      } catch (_) {
        // Keep the generic message.
      }
      throw new Error(message);
    }
    return false;
  }

  function start(id) {
    generation += 1;
    userID = id;
    remember(id);
    over = false;
    queue.length = 0;
    choices = [];
    clearTimeout(noReplyTimer);
    noReplyAfter = 0;
    log.replaceChildren();
    errorBox.hidden = true;
    ended.hidden = true;
    input.disabled = false;
    sendButton.disabled = false;
    eventButton.disabled = false;
    send({ type: "launch" });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || over) return;
    input.value = "";
    // Typing a button's label is the same as clicking it (as Voiceflow's widget does).
    const folded = text.toLowerCase();
    const match = choices.find((choice) => choice.name.trim().toLowerCase() === folded);
    send(match ? match.request : { type: "text", payload: text }, text);
  });

  if (config.event) {
    eventButton.textContent = config.event.label;
    eventButton.hidden = false;
    eventButton.addEventListener("click", () =>
      send(
        { type: "event", payload: { event: { name: config.event.name, data: config.event.data } } },
        config.event.label,
      ),
    );
  }

  const restart = () => {
    start(newUserID());
    input.focus();
  };
  $("restart").addEventListener("click", restart);
  $("start-over").addEventListener("click", restart);

  start(recall() || newUserID());
})();
