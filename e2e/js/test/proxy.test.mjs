// Client addresses behind reverse proxies: the per-IP connection limit counts the client a
// trusted proxy names in X-Forwarded-For (its rightmost hop that is not a proxy), and ignores
// the header from anyone else, so a forged header neither spreads one client over many budgets
// nor charges someone else's.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { API_KEY, MODE, connect, postJson, sleep, startServer } from '../helpers/server.mjs';

// Two connections at once per address, then one more a second: a third made at once is refused.
const LIMIT = { CONNECTION_BURST_PER_IP: '2', CONNECTIONS_PER_IP_PER_SECOND: '1' };

/** Connects with `X-Forwarded-For: xff`; resolves to the socket, or to the refusal's message. */
async function from(server, xff) {
  const opts = { transports: ['websocket'], extraHeaders: { 'x-forwarded-for': xff } };
  try {
    return { socket: await connect(server.url, '/', opts) };
  } catch (err) {
    return { refused: err.cause?.message ?? err.message };
  }
}

describe('client addresses behind proxies', { skip: MODE === 'reference' && 'iogate only: the reference has no per-IP limit' }, () => {
  const sockets = [];
  const keep = (r) => { if (r.socket) sockets.push(r.socket); return r; };
  after(() => { for (const s of sockets) s.close(); });

  describe('no trusted proxy (the default)', () => {
    let server;
    before(async () => { server = await startServer(LIMIT); });
    after(async () => { await server?.stop(); });

    it('a forged X-Forwarded-For does not give a client a budget per forged address', async () => {
      assert.ok(keep(await from(server, '198.51.100.1')).socket);
      assert.ok(keep(await from(server, '198.51.100.2')).socket);
      const third = keep(await from(server, '198.51.100.3'));
      assert.equal(third.refused, 'Too many connections');
    });
  });

  describe('TRUSTED_PROXIES=127.0.0.1', () => {
    let server;
    before(async () => {
      server = await startServer({ ...LIMIT, TRUSTED_PROXIES: '127.0.0.1', RUST_LOG: 'info' });
    });
    after(async () => { await server?.stop(); });

    it('each client the proxy names has a budget of its own', async () => {
      assert.ok(keep(await from(server, '198.51.100.1')).socket);
      assert.ok(keep(await from(server, '198.51.100.1')).socket);
      assert.equal(keep(await from(server, '198.51.100.1')).refused, 'Too many connections');
      // What a client wrote left of the proxy's entry is not believed: 198.51.100.1 spent its
      // budget, and claiming to be someone else in front of it does not help.
      const forged = keep(await from(server, '203.0.113.50, 198.51.100.1'));
      assert.equal(forged.refused, 'Too many connections');
      // Another client behind the same proxy is not charged for the first one.
      assert.ok(keep(await from(server, '198.51.100.2')).socket);
    });

    it('the logs name the client, not the proxy', async () => {
      const res = await postJson(server.url, '/api/emit', { event: 'e', data: 1 }, {
        authorization: `Bearer ${API_KEY}`, 'x-forwarded-for': '198.51.100.9',
      });
      assert.equal(res.status, 201, res.text);
      await sleep(100);
      // eslint-disable-next-line no-control-regex
      const logs = server.stderr().replace(/\x1b\[[0-9;]*m/g, '');
      assert.match(logs, /client=198\.51\.100\.9/);
      assert.match(logs, /connection refused by a limit.*198\.51\.100\.1/);
      assert.doesNotMatch(logs, /connection refused by a limit.*203\.0\.113\.50/);
    });
  });
});
