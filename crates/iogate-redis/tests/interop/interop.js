// A Node socket.io node (with @socket.io/redis-adapter) and an emitter beside an iogate node on
// one Redis: checks that rooms, broadcasts, fetchSockets and allRooms cross both ways.
// Usage: node interop.js <redis url> <iogate url> [specific]; exits 0 when every check passed.
// With `specific`, the Node node answers requests on the requester's own response channel
// (`publishOnSpecificResponseChannel`).
"use strict";
const assert = require("node:assert/strict");
const { createClient } = require("redis");
const { WAIT, next, eventually, check, runChecks } = require("./checks");
const { nodeServer, clientsInShared, iogateBinaryReaches, roomsUntil } = require("./checks");
const { checkIogateBroadcast, checkFetchSockets, checkSocketsJoin } = require("./checks");
const { checkServerSideEvents, checkDisconnectSockets } = require("./checks");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");

const [redisUrl, iogateUrl, mode] = process.argv.slice(2);

(async () => {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  const epub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect(), epub.connect()]);
  const { io, nodeUrl } = await nodeServer({
    adapter: createAdapter(pub, sub, { publishOnSpecificResponseChannel: mode === "specific" }),
  });
  const emitter = new Emitter(epub);

  const [onNode, onIogate] = await clientsInShared(nodeUrl, iogateUrl);
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

  checkIogateBroadcast(onNode, onIogate);

  check("an iogate binary broadcast reaches a Node client as a Buffer", async () => {
    await iogateBinaryReaches(onNode, onIogate, "bin-from-iogate");
  });

  check("the emitter's io.to(room).emit reaches an iogate client", async () => {
    const got = next(onIogate, "from-emitter");
    emitter.to("shared").emit("from-emitter", 42, Buffer.from([9, 8]));
    const [n, bin] = await got;
    assert.equal(n, 42);
    assert.deepEqual([...bin], [9, 8]);
  });

  checkFetchSockets(io, onNode, onIogate);

  checkSocketsJoin(io, onIogate, async () => {
    io.in("shared").socketsLeave("node-made");
    await roomsUntil(onIogate, (rooms) => !rooms.includes("node-made"));
  });

  check("the emitter's socketsJoin makes the iogate socket join", async () => {
    emitter.in("shared").socketsJoin("emitter-made");
    await roomsUntil(onIogate, (rooms) => rooms.includes("emitter-made"));
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

  checkDisconnectSockets(io, onIogate);

  await runChecks([onNode, onIogate, io], [pub, sub, epub]);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
