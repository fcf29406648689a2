// The support chat: one WebSocket (same origin; the session cookie authenticates it),
// frames streamed into the transcript. Text is always set with textContent, never as HTML.
(function () {
  "use strict";
  var form = document.getElementById("chat-form");
  if (!form || form.dataset.disabled === "true") { return; }
  var input = document.getElementById("chat-input");
  var send = document.getElementById("chat-send");
  var transcript = document.getElementById("transcript");
  var status = document.getElementById("chat-status");
  var socket = null;
  var counter = 0;
  var turns = {};  // message id -> {answer: element, text: the user's message}
  var pending = [];

  // On AWS the chat runs on API Gateway's WebSocket API, which cannot read this site's
  // cookie: the page asks its own origin for the session's token (a CSRF-checked POST)
  // and offers it as the "bearer" subprotocol. Locally the cookie does it all.
  var socketUrl = form.dataset.socketUrl || "";
  var connecting = false;

  function url() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + "/v1/agent/ws";
  }

  function add(kind, text) {
    var empty = document.getElementById("transcript-empty");
    if (empty) { empty.remove(); }
    var item = document.createElement("li");
    item.className = "msg msg-" + kind;
    item.textContent = text;
    transcript.appendChild(item);
    transcript.scrollTop = transcript.scrollHeight;
    return item;
  }

  function setBusy(busy) {
    send.disabled = busy;
    status.textContent = busy ? "The assistant is working…" : "";
  }

  function connect() {
    if (!socketUrl) { open(new WebSocket(url())); return; }
    if (connecting) { return; }
    connecting = true;
    fetch("/chat/socket-token", {
      method: "POST",
      credentials: "same-origin",
      body: new URLSearchParams({ csrf: form.dataset.csrf || "" })
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (body) {
      connecting = false;
      open(new WebSocket(socketUrl, ["bearer", body.token]));
    }).catch(function () {
      connecting = false;
      status.textContent = "The chat could not connect; reload the page to try again.";
      setBusy(false);
    });
  }

  function open(opened) {
    socket = opened;
    socket.addEventListener("open", function () {
      status.textContent = "";
      while (pending.length) { socket.send(pending.shift()); }
    });
    socket.addEventListener("message", function (event) { onFrame(JSON.parse(event.data)); });
    socket.addEventListener("close", function (event) {
      socket = null;
      setBusy(false);
      if (event.code === 4401 || event.code === 1008) {
        status.textContent = "Your session ended. ";
        var link = document.createElement("a");
        link.href = "/login?next=/chat&expired=1";
        link.textContent = "Sign in again";
        status.appendChild(link);
      }
    });
  }

  function onFrame(frame) {
    var turn = turns[frame.id];
    if (frame.type === "ack") {
      setBusy(true);
    } else if (frame.type === "delta" && turn) {
      if (!turn.answer) { turn.answer = add("agent", ""); }
      turn.answer.textContent += frame.text;
      transcript.scrollTop = transcript.scrollHeight;
    } else if (frame.type === "tool_started") {
      add("tool", frame.display + "…");
    } else if (frame.type === "tool_finished") {
      var outcome = { ok: "done", denied: "not allowed", pending: "waiting for approval", failed: "did not work" };
      add("tool", (outcome[frame.outcome] || frame.outcome) + ".");
    } else if (frame.type === "error") {
      var item = add("error", frame.message + " (" + frame.code + ")");
      if (turn && frame.code !== "session_expired" && frame.code !== "model_not_configured") {
        var retry = document.createElement("button");
        retry.type = "button";
        retry.className = "small";
        retry.textContent = "Retry";
        retry.addEventListener("click", function () { retry.disabled = true; ask(turn.text); });
        item.appendChild(retry);
      }
    } else if (frame.type === "done") {
      setBusy(false);
      input.focus();
    }
  }

  function ask(text) {
    counter += 1;
    var id = "m-" + Date.now().toString(36) + "-" + counter;
    turns[id] = { answer: null, text: text };
    add("user", text);
    var payload = JSON.stringify({ type: "message", id: id, text: text });
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(payload);
    } else {
      pending.push(payload);
      if (!socket && !connecting) { connect(); }
    }
    setBusy(true);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    ask(text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  connect();
})();
