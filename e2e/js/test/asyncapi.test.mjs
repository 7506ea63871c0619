// The AsyncAPI 3.0 document of the gateways' declared events: served at /asyncapi.json, the same
// as `iogate codegen asyncapi` writes, and valid for the AsyncAPI parser (@asyncapi/parser).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Parser } from '@asyncapi/parser';
import { MODE, startServer } from '../helpers/server.mjs';
import { runIogate } from '../helpers/process.mjs';

describe('the AsyncAPI document', { skip: MODE === 'reference' && 'iogate only' }, () => {
  let server;
  before(async () => { server = await startServer(); });
  after(async () => { await server?.stop(); });

  it('is served at /asyncapi.json as `iogate codegen asyncapi` writes it, and is valid', async () => {
    const res = await fetch(`${server.url}/asyncapi.json`);
    assert.equal(res.status, 200);
    const served = await res.json();
    const { code, stdout, stderr } = await runIogate(['codegen', 'asyncapi']);
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), served);

    const { document, diagnostics } = await new Parser().parse(JSON.stringify(served));
    // Severity 0 is an error, 1 a warning; 2 and 3 are hints (such as "3.1.0 exists").
    const problems = diagnostics.filter((d) => d.severity < 2).map((d) => `${d.code} ${d.message} ${d.path.join('.')}`);
    assert.deepEqual(problems, []);
    assert.equal(document.version(), '3.0.0');
    const addresses = document.channels().all().map((c) => c.address()).sort();
    assert.deepEqual(addresses, ['/', '/chat', '/events', '/notifications']);
    const op = document.operations().all().find((o) => o.id() === 'root.receive.messageToRoom');
    assert.ok(op?.action() === 'receive', 'clients send messageToRoom on /');
    const reply = document.operations().all().find((o) => o.id() === 'events.receive.message').reply();
    assert.ok(reply, "`message` on /events is acknowledged");
    const said = served.components.schemas.Said;
    assert.deepEqual(Object.keys(said.properties).sort(), ['message', 'userId']);
  });
});
