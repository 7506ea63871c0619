// A Node socket.io node with @socket.io/redis-adapter's sharded adapter (createShardedAdapter,
// its default dynamic mode) beside an iogate node with the sharded adapter, on one Redis
// Cluster: checks that one-room and namespace broadcasts cross both ways (binary included),
// that rooms, fetchSockets and disconnects cross, and that server-side events are answered.
// Usage: node sharded.js <comma-separated seed urls> <iogate url>; exits 0 when every check
// passed.
"use strict";
const assert = require("node:assert/strict");
const { createCluster } = require("redis");
const { WAIT, next, eventually, check, runChecks } = require("./checks");
const { nodeServer, clientsInShared, iogateBinaryReaches } = require("./checks");
const { checkIogateBroadcast, checkFetchSockets, checkSocketsJoin } = require("./checks");
const { checkServerSideEvents, checkDisconnectSockets } = require("./checks");
const { createShardedAdapter } = require("@socket.io/redis-adapter");

const [seeds, iogateUrl] = process.argv.slice(2);

(async () => {
  const rootNodes = seeds.split(",").map((url) => ({ url }));
  const pubClient = createCluster({ rootNodes });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  const { io, nodeUrl } = await nodeServer({ adapter: createShardedAdapter(pubClient, subClient) });
  const [onNode, onIogate] = await clientsInShared(nodeUrl, iogateUrl);

  check("Node's one-room broadcast (on the room's channel) reaches the iogate client", async () => {
    await eventually(async () => {
      const got = next(onIogate, "from-node");
      io.to("shared").emit("from-node", "hi", { n: 1.5 });
      assert.deepEqual(await got, ["hi", { n: 1.5 }]);
    });
  });

  checkIogateBroadcast(onNode, onIogate);

  check("binary crosses both ways", async () => {
    const toIogate = next(onIogate, "bin-node");
    io.to("shared").emit("bin-node", Buffer.from([4, 5]));
    const [fromNode] = await toIogate;
    assert.deepEqual([...fromNode], [4, 5]);
    await iogateBinaryReaches(onNode, onIogate, "bin");
  });

  check("Node's broadcast to the namespace reaches the iogate client", async () => {
    const got = next(onIogate, "everyone");
    io.emit("everyone", 1);
    assert.deepEqual(await got, [1]);
  });

  checkFetchSockets(io, onNode, onIogate);
  checkSocketsJoin(io, onIogate);

  check("a broadcast to a room only iogate has members in reaches them", async () => {
    assert.equal(await onIogate.timeout(WAIT).emitWithAck("join", "iogate-only"), "ok");
    // iogate subscribes to the room's channel once it has a member there; until then Node's
    // publish reaches nobody, so each try waits briefly and the next one publishes again.
    await eventually(async () => {
      const got = next(onIogate, "only", 500);
      io.to("iogate-only").emit("only", "x");
      assert.deepEqual(await got, ["x"]);
    });
  });

  checkServerSideEvents(io, onIogate);

  checkDisconnectSockets(io, onIogate);

  await runChecks([onNode, onIogate, io], [pubClient, subClient]);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
