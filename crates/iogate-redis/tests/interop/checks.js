// What the interop scripts share: the Node node and the two clients, waiting for events,
// retrying, the checks every adapter passes, and running named checks.
"use strict";
const http = require("node:http");
const assert = require("node:assert/strict");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");

const WAIT = 5000;

/** A Node socket.io node with `options` (its adapter) on a free port: its clients can `join`
 *  a room and ask for their `rooms`. Its `io` and its url. */
async function nodeServer(options) {
  const httpServer = http.createServer();
  const io = new Server(httpServer, options);
  io.on("connection", (socket) => {
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb?.("ok");
    });
    socket.on("rooms", (cb) => cb([...socket.rooms].filter((r) => r !== socket.id)));
  });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  return { io, nodeUrl: `http://127.0.0.1:${httpServer.address().port}` };
}

/** A client of `url` over websocket that does not reconnect by itself. */
function client(url, extra = {}) {
  return connect(url, { transports: ["websocket"], reconnection: false, forceNew: true, ...extra });
}

/** A client of the Node node and one of the iogate node, connected, both in room "shared". */
async function clientsInShared(nodeUrl, iogateUrl) {
  const onNode = client(nodeUrl);
  const onIogate = client(iogateUrl);
  await Promise.all([next(onNode, "connect"), next(onIogate, "connect")]);
  assert.equal(await onNode.timeout(WAIT).emitWithAck("join", "shared"), "ok");
  assert.equal(await onIogate.timeout(WAIT).emitWithAck("join", "shared"), "ok");
  return [onNode, onIogate];
}

/** Has the iogate client `onIogate` broadcast `args` to `room` through its node. */
async function iogateBroadcast(onIogate, room, event, ...args) {
  assert.equal(await onIogate.timeout(WAIT).emitWithAck("broadcast", room, event, ...args), true);
}

/** Has the iogate client `onIogate` broadcast the bytes [1, 2, 3] to "shared" as `event`,
 *  and checks that the Node client `onNode` gets them as a Buffer. */
async function iogateBinaryReaches(onNode, onIogate, event) {
  const got = next(onNode, event);
  assert.equal(await onIogate.timeout(WAIT).emitWithAck("broadcast_bin", "shared", event), true);
  const [bin] = await got;
  assert.deepEqual([...bin], [1, 2, 3]);
}

/** Waits until the rooms of `socket` (as it asks its node) pass `test`. */
function roomsUntil(socket, test) {
  return eventually(async () => {
    const rooms = await socket.timeout(WAIT).emitWithAck("rooms");
    assert.ok(test(rooms), rooms.join());
  });
}

/** The next `event` on `socket`, its arguments; fails after `ms` (WAIT by default). */
function next(socket, event, ms = WAIT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${ms} ms`)), ms);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** Retries `check` until it stops throwing, for up to WAIT ms. */
async function eventually(check) {
  const until = Date.now() + WAIT;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const checks = [];

/** Adds a named check, run by `runChecks` in the order added. */
function check(name, fn) {
  checks.push([name, fn]);
}

/** The check that a one-room broadcast of the iogate node of `onIogate` reaches `onNode`. */
function checkIogateBroadcast(onNode, onIogate) {
  check("iogate's one-room broadcast reaches the Node client", async () => {
    const got = next(onNode, "from-iogate");
    await iogateBroadcast(onIogate, "shared", "from-iogate", { x: 1, s: "é" });
    assert.deepEqual(await got, [{ x: 1, s: "é" }]);
  });
}

/** The checks of fetching sockets across the Node node `io` and the iogate node of `onIogate`;
 *  with `data`, of the iogate socket's data too (its test handler keeps `{sid}`). */
function checkFetchSockets(io, onNode, onIogate, { data = false } = {}) {
  check(`Node's fetchSockets includes the iogate socket, its rooms${data ? " and data" : ""}`, async () => {
    const sockets = await io.fetchSockets();
    assert.deepEqual(sockets.map((s) => s.id).sort(), [onNode.id, onIogate.id].sort());
    const theirs = sockets.find((s) => s.id === onIogate.id);
    assert.ok(theirs.rooms.has("shared"), [...theirs.rooms].join());
    if (data) assert.deepEqual(theirs.data, { sid: onIogate.id });
  });

  check("iogate's fetch_sockets includes the Node socket", async () => {
    const ids = await onIogate.timeout(WAIT).emitWithAck("fetch");
    assert.deepEqual([...ids].sort(), [onNode.id, onIogate.id].sort());
  });
}

/** The check that the Node node's `socketsJoin` reaches the iogate client `onIogate`; `then`
 *  goes on from there. */
function checkSocketsJoin(io, onIogate, then = async () => undefined) {
  check("Node's socketsJoin makes the iogate socket join", async () => {
    io.in(onIogate.id).socketsJoin("node-made");
    await roomsUntil(onIogate, (rooms) => rooms.includes("node-made"));
    await then();
  });
}

/** The checks of server-side events between the Node node `io` and the iogate node that the
 *  client `onIogate` is connected to (its test handler answers `ping` with `{echo: args}`, and
 *  sends `server_side_emit(event, arg)` on). */
function checkServerSideEvents(io, onIogate) {
  io.on("ping", (arg, cb) => cb({ node: arg }));

  check("Node's serverSideEmitWithAck gets the iogate node's answer", async () => {
    const answers = await io.serverSideEmitWithAck("ping", "from-node");
    assert.deepEqual(answers, [{ echo: ["ping", "from-node"] }]);
  });

  check("iogate's server_side_emit gets the Node node's answer", async () => {
    const answers = await onIogate.timeout(WAIT).emitWithAck("server_side_emit", "ping", "from-iogate");
    assert.deepEqual(answers, [{ node: "from-iogate" }]);
  });
}

/** The check that the Node node's `disconnectSockets` disconnects the iogate client
 *  `onIogate`: to be added last, as the client is gone after it. */
function checkDisconnectSockets(io, onIogate) {
  check("Node's disconnectSockets disconnects the iogate socket", async () => {
    const gone = next(onIogate, "disconnect");
    io.in(onIogate.id).disconnectSockets();
    const [reason] = await gone;
    assert.equal(reason, "io server disconnect");
  });
}

/** Runs every check, prints each outcome, closes `closing` (clients, then the server) and quits
 *  the Redis clients `quitting`, and exits 0 only when all passed. */
async function runChecks(closing, quitting) {
  let failed = 0;
  for (const [name, fn] of checks) {
    try {
      await fn();
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e.message}`);
    }
  }
  closing.forEach((c) => c.close());
  await Promise.allSettled(quitting.map((r) => r.quit()));
  console.log(failed ? `${failed} of ${checks.length} failed` : `all ${checks.length} passed`);
  process.exit(failed ? 1 : 0);
}

module.exports = {
  WAIT, next, eventually, check, runChecks,
  nodeServer, client, clientsInShared, iogateBroadcast, iogateBinaryReaches, roomsUntil,
  checkIogateBroadcast, checkFetchSockets, checkSocketsJoin, checkServerSideEvents,
  checkDisconnectSockets,
};
