// Unit tests for static/chat-connection.js with fake fetch, WebSocket and timers.
// Run: node --test tests/browser/js/
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const { createConnection, CONNECT_TIMEOUT_MS, STABLE_AFTER_MS } = require(
  path.join(__dirname, "..", "..", "..", "static", "chat-connection.js")
);

/** Manual clock: timers fire only when the test advances time. */
function fakeClock() {
  let now = 0;
  let nextId = 1;
  const timers = new Map();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    pending: () => [...timers.values()].map((t) => t.at - now).sort((a, b) => a - b),
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at);
        if (!due.length) break;
        const [id, t] = due[0];
        timers.delete(id);
        now = t.at;
        t.fn();
      }
      now = end;
    },
  };
}

/** A WebSocket stand-in the test opens, feeds and closes by hand. */
function fakeSocketClass() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      if (!/^wss?:/.test(url)) throw new SyntaxError("bad url");
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedByClient = null;
      sockets.push(this);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error("not open");
      this.sent.push(data);
    }
    close(code, reason) {
      this.closedByClient = { code, reason };
      this.serverClose(1006, "");
    }
    // --- test helpers ---
    serverOpen() {
      this.readyState = 1;
      this.onopen && this.onopen({});
    }
    serverSend(data) {
      this.onmessage && this.onmessage({ data });
    }
    serverClose(code, reason) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.onclose && this.onclose({ code, reason: reason || "" });
    }
  }
  return { FakeWebSocket, sockets };
}

/** fetch stand-in answering from a queue of [status, body]; repeats the last answer. */
function fakeFetch(answers) {
  const calls = [];
  const fn = (url, init) => {
    calls.push(url);
    const [status, body] = answers.length > 1 ? answers.shift() : answers[0];
    if (status === "network") return Promise.reject(new TypeError("Failed to fetch"));
    return Promise.resolve({
      ok: status >= 200 && status < 300,
      status,
      text: () => Promise.resolve(body),
    });
  };
  fn.calls = calls;
  return fn;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function setup({ answers, directUrl = "", random = () => 1 } = {}) {
  const clock = fakeClock();
  const { FakeWebSocket, sockets } = fakeSocketClass();
  const fetch = fakeFetch(
    answers || [[200, JSON.stringify({ url: "ws://svc/client/hubs/h?access_token=t" })]]
  );
  const states = [];
  const texts = [];
  const conn = createConnection({
    name: "alice",
    directUrl,
    fetch,
    WebSocket: FakeWebSocket,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    now: clock.now,
    random,
    onState: (state, detail) => states.push([state, detail]),
    onText: (t) => texts.push(t),
  });
  const lastState = () => states[states.length - 1];
  return { clock, sockets, fetch, states, texts, conn, lastState };
}

test("negotiates, opens the returned URL, reports connected and sends text frames", async () => {
  const t = setup();
  t.conn.start();
  assert.equal(t.lastState()[0], "connecting");
  assert.equal(t.conn.send("too early"), false);
  await flush();
  assert.deepEqual(t.fetch.calls, ["negotiate?id=alice"]);
  assert.equal(t.sockets.length, 1);
  assert.equal(t.sockets[0].url, "ws://svc/client/hubs/h?access_token=t");
  t.sockets[0].serverOpen();
  assert.equal(t.lastState()[0], "connected");
  assert.equal(t.lastState()[1].name, "alice");
  assert.equal(t.conn.send("hello"), true);
  assert.deepEqual(t.sockets[0].sent, ["hello"]);
  t.sockets[0].serverSend('{"id":"1"}');
  t.sockets[0].serverSend(new TextEncoder().encode("bin é").buffer);
  assert.deepEqual(t.texts, ['{"id":"1"}', "bin é"]);
});

test("a drop leads to reconnecting, then a fresh negotiate and a new socket", async () => {
  const t = setup({
    answers: [
      [200, '{"url":"ws://svc/a?access_token=one"}'],
      [200, '{"url":"ws://svc/a?access_token=two"}'],
    ],
  });
  t.conn.start();
  await flush();
  t.sockets[0].serverOpen();
  t.sockets[0].serverClose(1006);
  const [state, detail] = t.lastState();
  assert.equal(state, "reconnecting");
  assert.equal(detail.delayMs, 1000);
  assert.equal(t.conn.send("lost?"), false);
  t.clock.advance(999);
  await flush();
  assert.equal(t.fetch.calls.length, 1);
  t.clock.advance(1);
  await flush();
  assert.equal(t.fetch.calls.length, 2);
  assert.equal(t.sockets[1].url, "ws://svc/a?access_token=two");
  t.sockets[1].serverOpen();
  assert.equal(t.lastState()[0], "connected");
});

test("back-off doubles on repeated failures up to 30 s and resets after a stable connection", async () => {
  const t = setup();
  t.conn.start();
  const delays = [];
  for (let i = 0; i < 7; i += 1) {
    await flush();
    t.sockets[t.sockets.length - 1].serverClose(1006); // handshake failed
    delays.push(t.lastState()[1].delayMs);
    t.clock.advance(t.lastState()[1].delayMs);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  await flush();
  const ws = t.sockets[t.sockets.length - 1];
  ws.serverOpen();
  t.clock.advance(STABLE_AFTER_MS);
  ws.serverClose(1001);
  assert.equal(t.lastState()[1].delayMs, 1000);
});

test("a short-lived connection does not reset the back-off", async () => {
  const t = setup();
  t.conn.start();
  await flush();
  t.sockets[0].serverClose(1006);
  t.clock.advance(1000);
  await flush();
  t.sockets[1].serverOpen();
  t.clock.advance(100);
  t.sockets[1].serverClose(1011);
  assert.equal(t.lastState()[1].delayMs, 2000); // 1000 would mean it was reset
});

test("a 4xx negotiate answer is final and its text is the reason", async () => {
  const t = setup({ answers: [[400, "missing user id\n"]] });
  t.conn.start();
  await flush();
  await flush();
  assert.deepEqual(t.lastState(), ["disconnected", { reason: "missing user id", fatal: true }]);
  assert.equal(t.sockets.length, 0);
  assert.deepEqual(t.clock.pending(), []);
});

test("5xx, 429, network errors and bad bodies are retried", async () => {
  for (const answer of [[500, ""], [429, "slow down"], ["network", ""], [200, "not json"], [200, '{"url":1}']]) {
    const t = setup({ answers: [answer, [200, '{"url":"ws://svc/ok"}']] });
    t.conn.start();
    await flush();
    await flush();
    assert.equal(t.lastState()[0], "reconnecting", String(answer));
    assert.ok(t.lastState()[1].reason.length > 0);
    t.clock.advance(t.lastState()[1].delayMs);
    await flush();
    await flush();
    assert.equal(t.sockets.length, 1, String(answer));
  }
});

test("direct mode skips negotiate and reopens the same URL", async () => {
  const t = setup({ directUrl: "ws://svc/client/hubs/h?id=alice" });
  t.conn.start();
  await flush();
  assert.deepEqual(t.fetch.calls, []);
  assert.equal(t.sockets[0].url, "ws://svc/client/hubs/h?id=alice");
  t.sockets[0].serverOpen();
  t.sockets[0].serverClose(1006);
  t.clock.advance(1000);
  await flush();
  assert.equal(t.sockets[1].url, "ws://svc/client/hubs/h?id=alice");
  assert.deepEqual(t.fetch.calls, []);
});

test("close code 1008 (policy) stops reconnecting", async () => {
  const t = setup();
  t.conn.start();
  await flush();
  t.sockets[0].serverOpen();
  t.sockets[0].serverClose(1008, "not allowed");
  assert.deepEqual(t.lastState(), ["disconnected", { reason: "not allowed", fatal: false }]);
  assert.deepEqual(t.clock.pending(), []);
});

test("stop() closes the socket, never reconnects, and ignores the old socket", async () => {
  const t = setup();
  t.conn.start();
  await flush();
  const ws = t.sockets[0];
  ws.serverOpen();
  t.conn.stop();
  assert.equal(t.lastState()[0], "disconnected");
  assert.equal(ws.closedByClient.code, 1000);
  const count = t.states.length;
  ws.serverSend("late");
  ws.serverClose(1006);
  t.clock.advance(60000);
  await flush();
  assert.equal(t.states.length, count);
  assert.deepEqual(t.texts, []);
  assert.equal(t.sockets.length, 1);
});

test("stop() while negotiating discards the answer", async () => {
  const t = setup();
  t.conn.start();
  t.conn.stop();
  await flush();
  assert.equal(t.sockets.length, 0);
  assert.equal(t.lastState()[0], "disconnected");
});

test("retryNow() skips the remaining wait", async () => {
  const t = setup();
  t.conn.start();
  await flush();
  t.sockets[0].serverClose(1006);
  assert.equal(t.lastState()[0], "reconnecting");
  t.conn.retryNow();
  await flush();
  assert.equal(t.sockets.length, 2);
  // The cancelled back-off timer must not start a third attempt.
  assert.deepEqual(t.clock.pending(), [CONNECT_TIMEOUT_MS]);
});

test("a hanging handshake is abandoned and retried", async () => {
  const t = setup();
  t.conn.start();
  await flush();
  t.clock.advance(CONNECT_TIMEOUT_MS);
  assert.ok(t.sockets[0].closedByClient);
  assert.equal(t.lastState()[0], "reconnecting");
});

test("a malformed URL from negotiate stops with a reason instead of throwing", async () => {
  const t = setup({ answers: [[200, '{"url":"https://svc/x"}']] });
  // https:// is converted to wss://, so use a URL the fake constructor rejects afterwards.
  t.conn.start();
  await flush();
  assert.equal(t.sockets[0].url, "wss://svc/x");

  const clock = fakeClock();
  const states = [];
  const conn = createConnection({
    name: "a",
    directUrl: "notaurl",
    WebSocket: fakeSocketClass().FakeWebSocket,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    onState: (s, d) => states.push([s, d]),
  });
  conn.start();
  await flush();
  assert.equal(states[states.length - 1][0], "disconnected");
  assert.ok(states[states.length - 1][1].reason);
});

test("connected detail names the token's user id when there is one", async () => {
  const b64 = (s) => Buffer.from(s).toString("base64url");
  const token = `${b64("{}")}.${b64('{"sub":"Alice Real"}')}.x`;
  const t = setup({ answers: [[200, JSON.stringify({ url: `ws://svc/h?access_token=${token}` })]] });
  t.conn.start();
  await flush();
  t.sockets[0].serverOpen();
  assert.equal(t.lastState()[1].name, "Alice Real");
});
