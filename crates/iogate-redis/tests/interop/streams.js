// A Node socket.io node with @socket.io/redis-streams-adapter and connection state recovery,
// beside an iogate node with the streams adapter, on one Redis: checks that broadcasts carry
// the same offsets on both, that rooms and fetchSockets cross, and that a client dropped on one
// node is recovered on the other, both ways, with what it missed, in order.
// Usage: node streams.js <redis url> <iogate url>; exits 0 when every check passed.
"use strict";
const assert = require("node:assert/strict");
const { createClient } = require("redis");
const { WAIT, next, eventually, check, runChecks } = require("./checks");
const { nodeServer, client, clientsInShared, iogateBroadcast } = require("./checks");
const { checkFetchSockets, checkSocketsJoin, checkServerSideEvents } = require("./checks");
const { createAdapter } = require("@socket.io/redis-streams-adapter");

const [redisUrl, iogateUrl] = process.argv.slice(2);
const OFFSET = /^\d+-\d+$/;

/** The next `count` events named `event` on `socket`, their arguments. */
function several(socket, event, count) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error(`${got.length} of ${count} "${event}"`)), WAIT);
    const on = (...args) => {
      got.push(args);
      if (got.length === count) {
        clearTimeout(timer);
        socket.off(event, on);
        resolve(got);
      }
    };
    socket.on(event, on);
  });
}

/** A client of `url` that comes back with the session of `gone` (as one would through a load
 *  balancer that sent its reconnection to another node). `listen` is called before it
 *  connects: a client may be handed the events it missed before its `connect` event. */
async function comeBack(url, gone, listen = () => undefined) {
  const back = client(url, { autoConnect: false });
  back._pid = gone.pid;
  back._lastOffset = gone.offset;
  const listening = listen(back);
  const connected = next(back, "connect");
  back.connect();
  await connected;
  return [back, listening];
}

/** Drops the client's transport, as a broken network would, and notes its session. */
function drop(socket) {
  const gone = { id: socket.id, pid: socket._pid, offset: socket._lastOffset };
  socket.io.engine.close();
  return gone;
}

(async () => {
  const redis = createClient({ url: redisUrl });
  await redis.connect();
  const { io, nodeUrl } = await nodeServer({
    adapter: createAdapter(redis),
    connectionStateRecovery: {},
  });
  io.on("connection", (socket) => {
    socket.on("state", (cb) => cb({ recovered: socket.recovered, data: socket.data }));
  });
  const [onNode, onIogate] = await clientsInShared(nodeUrl, iogateUrl);

  /** A client of `url` that joins `room` (when given), reads a "tick" sent there (else to it
   *  alone), and drops its transport; its session, once Redis holds it. */
  async function droppedAfterATick(url, room) {
    const c = client(url);
    await next(c, "connect");
    if (room) await c.timeout(WAIT).emitWithAck("join", room);
    const read = next(c, "tick");
    io.to(room ?? c.id).emit("tick", 0);
    await read;
    const gone = drop(c);
    await eventually(async () => assert.ok(await redis.get(`sio:session:${gone.pid}`)));
    return gone;
  }

  /** Waits until an entry of the stream (the adapters' default, `socket.io`) carries `text`. */
  async function inStream(text) {
    await eventually(async () => {
      const entries = await redis.xRevRange("socket.io", "+", "-", { COUNT: 20 });
      assert.ok(JSON.stringify(entries).includes(text), `no entry with ${text}`);
    });
  }

  check("Node's broadcast reaches the iogate client with the offset the Node client gets", async () => {
    const [a, b] = [next(onNode, "from-node"), next(onIogate, "from-node")];
    io.to("shared").emit("from-node", "hi", { n: 1.5 });
    const [[t1, o1, off1], [t2, o2, off2]] = await Promise.all([a, b]);
    assert.deepEqual([t1, o1], ["hi", { n: 1.5 }]);
    assert.deepEqual([t2, o2], ["hi", { n: 1.5 }]);
    assert.match(off1, OFFSET);
    assert.equal(off2, off1);
  });

  check("iogate's broadcast reaches the Node client with the offset the iogate client gets", async () => {
    const [a, b] = [next(onNode, "from-iogate"), next(onIogate, "from-iogate")];
    await iogateBroadcast(onIogate, "shared", "from-iogate", { x: 1, s: "é" });
    const [[x1, off1], [x2, off2]] = await Promise.all([a, b]);
    assert.deepEqual(x1, { x: 1, s: "é" });
    assert.deepEqual(x2, { x: 1, s: "é" });
    assert.match(off1, OFFSET);
    assert.equal(off2, off1);
  });

  checkFetchSockets(io, onNode, onIogate, { data: true });
  checkSocketsJoin(io, onIogate);

  check("a client dropped on Node is recovered on iogate, with what it missed, in order", async () => {
    const gone = await droppedAfterATick(nodeUrl, "room-n");
    io.to("room-n").emit("news", "from-node");
    // Node's emit appends to the stream in the background: the expected order is the stream's.
    await inStream("from-node");
    await iogateBroadcast(onIogate, "room-n", "news", "from-iogate");
    io.to(gone.id).emit("direct", "to-you");

    const [back, [news, direct]] = await comeBack(iogateUrl, gone, (s) => [
      several(s, "news", 2),
      next(s, "direct"),
    ]);
    assert.equal(back.recovered, true);
    assert.equal(back.id, gone.id);
    const got = await news;
    assert.deepEqual(got.map(([text]) => text), ["from-node", "from-iogate"]);
    assert.equal((await direct)[0], "to-you");
    const rooms = await back.timeout(WAIT).emitWithAck("rooms");
    assert.deepEqual(rooms, ["room-n"]);
    back.close();
  });

  check("a client dropped on iogate is recovered on Node, with what it missed, in order", async () => {
    const gone = await droppedAfterATick(iogateUrl, "room-i");
    await iogateBroadcast(onIogate, "room-i", "news", "from-iogate");
    io.to("room-i").emit("news", "from-node");

    const [back, news] = await comeBack(nodeUrl, gone, (s) => several(s, "news", 2));
    assert.equal(back.recovered, true);
    assert.equal(back.id, gone.id);
    const got = await news;
    assert.deepEqual(got.map(([text]) => text), ["from-iogate", "from-node"]);
    const state = await back.timeout(WAIT).emitWithAck("state");
    assert.deepEqual(state, { recovered: true, data: { sid: gone.id } });
    assert.deepEqual(await back.timeout(WAIT).emitWithAck("rooms"), ["room-i"]);
    back.close();
  });

  check("a session is recovered once: the second attempt gets a new id", async () => {
    const gone = await droppedAfterATick(iogateUrl);
    const [first] = await comeBack(nodeUrl, gone);
    assert.equal(first.recovered, true);
    const [second] = await comeBack(iogateUrl, gone);
    assert.equal(second.recovered, false);
    assert.notEqual(second.id, gone.id);
    first.close();
    second.close();
  });

  checkServerSideEvents(io, onIogate);

  await runChecks([onNode, onIogate, io], [redis]);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
