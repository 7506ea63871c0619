// A Node socket.io node (with @socket.io/redis-adapter) and an emitter beside an iogate node on
// one Redis: checks that rooms, broadcasts, fetchSockets and allRooms cross both ways.
// Usage: node interop.js <redis url> <iogate url> [specific]; exits 0 when every check passed.
// With `specific`, the Node node answers requests on the requester's own response channel
// (`publishOnSpecificResponseChannel`).
"use strict";
const http = require("node:http");
const assert = require("node:assert/strict");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");
const { createClient } = require("redis");
const { WAIT, next, eventually, check, checkServerSideEvents, runChecks } = require("./checks");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");

const [redisUrl, iogateUrl, mode] = process.argv.slice(2);

(async () => {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  const epub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect(), epub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(pub, sub, { publishOnSpecificResponseChannel: mode === "specific" }),
  });
  io.on("connection", (socket) => {
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb?.("ok");
    });
  });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  const nodeUrl = `http://127.0.0.1:${httpServer.address().port}`;
  const emitter = new Emitter(epub);

  const onNode = connect(nodeUrl, { transports: ["websocket"] });
  const onIogate = connect(iogateUrl, { transports: ["websocket"] });
  await Promise.all([next(onNode, "connect"), next(onIogate, "connect")]);
  assert.equal(await onNode.timeout(WAIT).emitWithAck("join", "shared"), "ok");
  assert.equal(await onIogate.timeout(WAIT).emitWithAck("join", "shared"), "ok");
  onNode.on("ack-me", (cb) => cb("node-ack"));
  onIogate.on("ack-me", (cb) => cb?.("iogate-ack"));

  check("Node's io.to(room).emit reaches an iogate client, binary included", async () => {
    const got = next(onIogate, "from-node");
    io.to("shared").emit("from-node", "hi", Buffer.from([1, 2]), { n: 1.5 });
    const [text, bin, obj] = await got;
    assert.equal(text, "hi");
    assert.deepEqual([...bin], [1, 2]);
    assert.deepEqual(obj, { n: 1.5 });
  });

  check("an iogate broadcast to a room reaches a Node client", async () => {
    const got = next(onNode, "from-iogate");
    assert.equal(await onIogate.timeout(WAIT).emitWithAck("broadcast", "shared", "from-iogate", { x: 1, s: "é" }), true);
    assert.deepEqual(await got, [{ x: 1, s: "é" }]);
  });

  check("an iogate binary broadcast reaches a Node client as a Buffer", async () => {
    const got = next(onNode, "bin-from-iogate");
    assert.equal(await onIogate.timeout(WAIT).emitWithAck("broadcast_bin", "shared", "bin-from-iogate"), true);
    const [bin] = await got;
    assert.deepEqual([...bin], [1, 2, 3]);
  });

  check("the emitter's io.to(room).emit reaches an iogate client", async () => {
    const got = next(onIogate, "from-emitter");
    emitter.to("shared").emit("from-emitter", 42, Buffer.from([9, 8]));
    const [n, bin] = await got;
    assert.equal(n, 42);
    assert.deepEqual([...bin], [9, 8]);
  });

  check("Node's fetchSockets includes the iogate socket, with its rooms", async () => {
    const sockets = await io.fetchSockets();
    const ids = sockets.map((s) => s.id).sort();
    assert.deepEqual(ids, [onNode.id, onIogate.id].sort());
    const theirs = sockets.find((s) => s.id === onIogate.id);
    assert.ok(theirs.rooms.has("shared"), [...theirs.rooms].join());
  });

  check("iogate's fetch_sockets includes the Node socket", async () => {
    const ids = await onIogate.timeout(WAIT).emitWithAck("fetch");
    assert.deepEqual([...ids].sort(), [onNode.id, onIogate.id].sort());
  });

  check("Node's socketsJoin makes the iogate socket join", async () => {
    io.in(onIogate.id).socketsJoin("node-made");
    await eventually(async () => {
      const rooms = await onIogate.timeout(WAIT).emitWithAck("rooms");
      assert.ok(rooms.includes("node-made"), rooms.join());
    });
    io.in("shared").socketsLeave("node-made");
    await eventually(async () => {
      const rooms = await onIogate.timeout(WAIT).emitWithAck("rooms");
      assert.ok(!rooms.includes("node-made"), rooms.join());
    });
  });

  check("the emitter's socketsJoin makes the iogate socket join", async () => {
    emitter.in("shared").socketsJoin("emitter-made");
    await eventually(async () => {
      const rooms = await onIogate.timeout(WAIT).emitWithAck("rooms");
      assert.ok(rooms.includes("emitter-made"), rooms.join());
    });
  });

  check("allRooms agrees both ways", async () => {
    onNode.emit("join", "node-only");
    await eventually(async () => {
      const rooms = await onIogate.timeout(WAIT).emitWithAck("all_rooms");
      assert.ok(rooms.includes("node-only") && rooms.includes("shared"), rooms.join());
    });
    const fromNode = await io.of("/").adapter.allRooms();
    assert.ok(fromNode.has("emitter-made"), [...fromNode].join());
  });

  check("Node's broadcast with acks completes, the iogate client receiving it", async () => {
    const got = next(onIogate, "ack-me");
    const answers = await io.to("shared").timeout(2000).emitWithAck("ack-me");
    // iogate delivers without asking its clients for an acknowledgement (not supported yet).
    assert.deepEqual(answers, ["node-ack"]);
    await got;
  });

  checkServerSideEvents(io, onIogate);

  check("Node's disconnectSockets disconnects the iogate socket", async () => {
    const gone = next(onIogate, "disconnect");
    io.in(onIogate.id).disconnectSockets();
    const [reason] = await gone;
    assert.equal(reason, "io server disconnect");
  });

  await runChecks(async () => {
    onNode.close();
    onIogate.close();
    io.close();
    await Promise.allSettled([pub.quit(), sub.quit(), epub.quit()]);
  });
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
