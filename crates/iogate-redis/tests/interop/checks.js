// What the interop scripts share: waiting for events, retrying, and running named checks.
"use strict";

const WAIT = 5000;

/** The next `event` on `socket`, its arguments; fails after WAIT ms. */
function next(socket, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${WAIT} ms`)), WAIT);
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

/** The checks of server-side events between the Node node `io` and the iogate node that the
 *  client `onIogate` is connected to (its test handler answers `ping` with `{echo: args}`, and
 *  sends `server_side_emit(event, arg)` on). */
function checkServerSideEvents(io, onIogate) {
  const assert = require("node:assert/strict");
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

/** Runs every check, prints each outcome, calls `cleanup`, and exits 0 only when all passed. */
async function runChecks(cleanup) {
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
  await cleanup();
  console.log(failed ? `${failed} of ${checks.length} failed` : `all ${checks.length} passed`);
  process.exit(failed ? 1 : 0);
}

module.exports = { WAIT, next, eventually, check, checkServerSideEvents, runChecks };
