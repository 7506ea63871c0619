// A Node socket.io node with @socket.io/redis-adapter's sharded adapter (createShardedAdapter,
// its default dynamic mode) beside an iogate node with the sharded adapter, on one Redis
// Cluster: checks that one-room and namespace broadcasts cross both ways (binary included),
// that rooms, fetchSockets and disconnects cross, and that server-side events are answered.
// Usage: node sharded.js <comma-separated seed urls> <iogate url>; exits 0 when every check
// passed.
"use strict";
const http = require("node:http");
const assert = require("node:assert/strict");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");
const { createCluster } = require("redis");
const { WAIT, next, eventually, check, checkServerSideEvents, runChecks } = require("./checks");
const { createShardedAdapter } = require("@socket.io/redis-adapter");

const [seeds, iogateUrl] = process.argv.slice(2);

/** A client of `url` over websocket that does not reconnect by itself. */
function client(url) {
  return connect(url, { transports: ["websocket"], reconnection: false, forceNew: true });
}

(async () => {
  const rootNodes = seeds.split(",").map((url) => ({ url }));
  const pubClient = createCluster({ rootNodes });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createShardedAdapter(pubClient, subClient) });
  io.on("connection", (socket) => {
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb?.("ok");
    });
    socket.on("rooms", (cb) => cb([...socket.rooms].filter((r) => r !== socket.id)));
  });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  const nodeUrl = `http://127.0.0.1:${httpServer.address().port}`;

  const onNode = client(nodeUrl);
  const onIogate = client(iogateUrl);
  await Promise.all([next(onNode, "connect"), next(onIogate, "connect")]);
  assert.equal(await onNode.timeout(WAIT).emitWithAck("join", "shared"), "ok");
  assert.equal(await onIogate.timeout(WAIT).emitWithAck("join", "shared"), "ok");

  check("Node's one-room broadcast (on the room's channel) reaches the iogate client", async () => {
    await eventually(async () => {
      const got = next(onIogate, "from-node");
      io.to("shared").emit("from-node", "hi", { n: 1.5 });
      assert.deepEqual(await got, ["hi", { n: 1.5 }]);
    });
  });

  check("iogate's one-room broadcast reaches the Node client", async () => {
    const got = next(onNode, "from-iogate");
    assert.equal(await onIogate.timeout(WAIT).emitWithAck("broadcast", "shared", "from-iogate", { x: 1, s: "é" }), true);
    assert.deepEqual(await got, [{ x: 1, s: "é" }]);
  });

  check("binary crosses both ways", async () => {
    const toIogate = next(onIogate, "bin-node");
    io.to("shared").emit("bin-node", Buffer.from([4, 5]));
    const [fromNode] = await toIogate;
    assert.deepEqual([...fromNode], [4, 5]);
    const toNode = next(onNode, "bin");
    assert.equal(await onIogate.timeout(WAIT).emitWithAck("broadcast_bin", "shared", "bin"), true);
    const [fromIogate] = await toNode;
    assert.deepEqual([...fromIogate], [1, 2, 3]);
  });

  check("Node's broadcast to the namespace reaches the iogate client", async () => {
    const got = next(onIogate, "everyone");
    io.emit("everyone", 1);
    assert.deepEqual(await got, [1]);
  });

  check("Node's fetchSockets includes the iogate socket and its rooms", async () => {
    const sockets = await io.fetchSockets();
    assert.deepEqual(sockets.map((s) => s.id).sort(), [onNode.id, onIogate.id].sort());
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
  });

  check("a broadcast to a room only iogate has members in reaches them", async () => {
    assert.equal(await onIogate.timeout(WAIT).emitWithAck("join", "iogate-only"), "ok");
    await eventually(async () => {
      const got = next(onIogate, "only");
      io.to("iogate-only").emit("only", "x");
      assert.deepEqual(await got, ["x"]);
    });
  });

  checkServerSideEvents(io, onIogate);

  check("Node's disconnectSockets disconnects the iogate client", async () => {
    const gone = next(onIogate, "disconnect");
    io.in(onIogate.id).disconnectSockets();
    const [reason] = await gone;
    assert.equal(reason, "io server disconnect");
  });

  await runChecks(async () => {
    onNode.close();
    onIogate.close();
    io.close();
    await Promise.allSettled([pubClient.quit(), subClient.quit()]);
  });
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
