// Configuration: `iogate --help`, `iogate config`, precedence (flags > environment > file >
// defaults), masked secrets, errors that name the setting, and a server run from a file alone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MODE, connect, emitWithAck, once, sleep, token, track } from '../helpers/server.mjs';
import { request, runIogate, startIogate } from '../helpers/process.mjs';

const SETTINGS = [
  // [flag, environment variable, default shown by --help (or null)]
  ['--config', 'IOGATE_CONFIG', null],
  ['--port', 'PORT', '3000'],
  ['--host', 'HOST', '127.0.0.1'],
  ['--jwt-secret', 'JWT_SECRET', null],
  ['--api-key', 'API_KEY', null],
  ['--allowed-origins', 'ALLOWED_ORIGINS', '*'],
  ['--max-payload', 'MAX_PAYLOAD', '1000000'],
  ['--max-outgoing-bytes', 'MAX_OUTGOING_BYTES', '1048576'],
  ['--write-timeout', 'WRITE_TIMEOUT', '10'],
  ['--per-message-deflate', 'PER_MESSAGE_DEFLATE', null],
  ['--redis-url', 'REDIS_URL', null],
  ['--redis-startup-timeout', 'REDIS_STARTUP_TIMEOUT', '30'],
  ['--shutdown-timeout', 'SHUTDOWN_TIMEOUT', '10'],
  ['--log', 'RUST_LOG', 'info'],
  ['--log-json', 'LOG_JSON', null],
  ['--metrics', 'METRICS', 'true'],
  ['--metrics-key', 'METRICS_KEY', null],
  ['--static-dir', 'STATIC_DIR', null],
  ['--demo', 'DEMO', null],
];

const SECRET = 'a-jwt-secret-of-at-least-32-bytes-0123456789';
const KEY = 'file-api-key-0123456789';

/** The `key = value` lines of `iogate config`, as `{ key: [value, source] }`. */
function settings(stdout) {
  const out = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\w+) = (.*?)\s+# (.*)$/.exec(line);
    if (m) out[m[1]] = [m[2], m[3]];
  }
  return out;
}

describe('configuration', { skip: MODE === 'reference' && 'iogate only' }, () => {
  let dir;
  const file = (name, text, mode = 0o600) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, mode);
    return p;
  };
  before(() => { dir = mkdtempSync(path.join(tmpdir(), 'iogate-config-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--help lists every setting with its variable and default', async () => {
    const { code, stdout } = await runIogate(['--help']);
    assert.equal(code, 0);
    for (const [flag, env, def] of SETTINGS) {
      const at = stdout.search(new RegExp(`^\\s+${flag}\\b`, 'm'));
      assert.ok(at >= 0, `${flag} missing from --help`);
      const entry = stdout.slice(at).split(/\n\s+--/)[0];
      assert.match(entry, new RegExp(`\\[env: ${env}`), `${flag}: no env ${env}`);
      if (def !== null) assert.ok(entry.includes(`[default: ${def}]`), `${flag}: no default ${def}\n${entry}`);
    }
  });

  it('flags win over the environment, which wins over the file, which wins over defaults', async () => {
    const config = file('iogate.toml', [
      'port = 4000',
      'max_payload = 2000',
      'log = "debug"',
      'allowed_origins = ["https://a.example", "https://b.example"]',
      'shutdown_timeout = 3',
    ].join('\n'));
    const { code, stdout, stderr } = await runIogate(['config', '--log', 'warn'], {
      IOGATE_CONFIG: config, MAX_PAYLOAD: '3000', SHUTDOWN_TIMEOUT: '4',
    });
    assert.equal(code, 0, stderr);
    const s = settings(stdout);
    assert.deepEqual(s.port, ['4000', `file ${config}`]);
    assert.deepEqual(s.max_payload, ['3000', 'environment MAX_PAYLOAD']);
    assert.deepEqual(s.shutdown_timeout, ['4', 'environment SHUTDOWN_TIMEOUT']);
    assert.deepEqual(s.log, ['"warn"', 'flag']);
    assert.deepEqual(s.allowed_origins, ['["https://a.example", "https://b.example"]', `file ${config}`]);
    assert.deepEqual(s.host, ['"127.0.0.1"', 'default']);
    assert.deepEqual(s.metrics, ['true', 'default']);
    assert.match(stdout, /^# config file: /m);
  });

  it('masks secrets, and the password of the Redis URL', async () => {
    const config = file('secrets.toml', `api_key = ["${KEY}", "second-api-key-0123456789"]\nmetrics_key = "metrics-key-0123456789"\n`);
    const { code, stdout, stderr } = await runIogate(['--config', config, 'config'], {
      JWT_SECRET: SECRET, REDIS_URL: 'redis://:hunter2hunter2@127.0.0.1:6379/0',
    });
    assert.equal(code, 0, stderr);
    for (const secret of [SECRET, KEY, 'second-api-key', 'metrics-key-0123', 'hunter2']) {
      assert.ok(!stdout.includes(secret), `${secret} printed`);
    }
    const s = settings(stdout);
    assert.deepEqual(s.jwt_secret, ['"********"', 'environment JWT_SECRET']);
    assert.equal(s.api_key[0], '["********", "********"]');
    assert.equal(s.metrics_key[0], '"********"');
    assert.equal(s.redis_url[0], '"redis://:********@127.0.0.1:6379/0"');
  });

  it('warns when a file holding secrets is readable by everyone', async () => {
    const config = file('open.toml', `jwt_secret = "${SECRET}"\n`, 0o644);
    const { code, stderr } = await runIogate(['config', '--config', config]);
    assert.equal(code, 0);
    assert.match(stderr, /warning: .*open\.toml holds jwt_secret and every user of this machine may read it/);
  });

  it('an invalid setting stops the start with a message naming the setting, the problem and the source', async () => {
    const cases = [
      [{ file: 'port = "eighty"' }, 1, /^iogate: invalid configuration: port: invalid type: string "eighty", expected u16 \(from file .*\)$/m],
      [{ file: 'prot = 80' }, 1, /^iogate: invalid configuration: prot: unknown setting in .* \(known: port, host, /m],
      [{ file: 'port = ' }, 1, /^iogate: the config file .* is not valid TOML: .*line 1/m],
      [{ file: 'jwt_secret = "short"' }, 1, /jwt_secret: must be at least 32 bytes long \(got 5\) \(from file /],
      [{ env: { JWT_SECRET: 'short' } }, 1, /^iogate: invalid configuration: jwt_secret: must be at least 32 bytes long \(got 5\) \(from environment JWT_SECRET\)$/m],
      [{ args: ['--api-key', 'short'] }, 1, /api_key: each key must be at least 16 characters long \(one has 5\) \(from --api-key\)/],
      [{ env: { ALLOWED_ORIGINS: 'https://app.example/' } }, 1, /allowed_origins: "https:\/\/app\.example\/" is not an origin.*\(from environment ALLOWED_ORIGINS\)/],
      [{ env: { REDIS_URL: 'http://127.0.0.1:6379' } }, 1, /redis_url: "http:\/\/127\.0\.0\.1:6379" is not a Redis URL/],
      [{ env: { RUST_LOG: 'info,a=loud' } }, 1, /log: "info,a=loud" is not a log filter/],
      [{ env: { STATIC_DIR: '/nonexistent' } }, 1, /static_dir: \/nonexistent is not a folder/],
      [{ env: { MAX_PAYLOAD: '0' } }, 1, /max_payload: must be at least 1 byte/],
      [{ env: { PORT: 'abc' } }, 2, /invalid value 'abc' for '--port <PORT>'[\s\S]*came from the environment variable PORT/],
      [{ env: { METRICS: 'maybe' } }, 2, /invalid value 'maybe' for '--metrics <BOOL>'[\s\S]*environment variable METRICS/],
      [{ env: { IOGATE_CONFIG: '/nonexistent/iogate.toml' } }, 1, /^iogate: cannot read the config file \/nonexistent\/iogate\.toml: /m],
    ];
    for (const [i, [{ file: text, env = {}, args = [] }, wantCode, message]] of cases.entries()) {
      const extra = text === undefined ? [] : ['--config', file(`bad-${i}.toml`, `${text}\n`)];
      // The server itself refuses, before listening, as `iogate config` does.
      for (const cmd of [[], ['config']]) {
        const { code, stdout, stderr } = await runIogate([...cmd, ...extra, ...args], { PORT: '0', ...env });
        assert.equal(code, wantCode, `${JSON.stringify(cases[i])}: ${stderr}`);
        assert.match(stderr, message);
        assert.ok(!stdout.includes('listening'), stdout);
      }
    }
  });

  it('boolean variables take true/false, 1/0, yes/no, on/off', async () => {
    for (const [value, want] of [['1', 'true'], ['yes', 'true'], ['on', 'true'], ['0', 'false'], ['off', 'false']]) {
      const { stdout } = await runIogate(['config'], { LOG_JSON: value, METRICS: value });
      assert.equal(settings(stdout).log_json[0], want);
      assert.equal(settings(stdout).metrics[0], want);
    }
  });

  it('the server runs from a config file alone', async (t) => {
    const config = file('server.toml', [
      'port = 0',
      `jwt_secret = "${SECRET}"`,
      `api_key = "${KEY}"`,
      'log_json = true',
      'log = "info"',
    ].join('\n'));
    const server = await startIogate({ IOGATE_CONFIG: config, PORT: undefined, JWT_SECRET: undefined, API_KEY: undefined, RUST_LOG: undefined });
    t.after(() => server.stop());
    assert.ok(!server.stdout().includes('is not set'), server.stdout());
    const socket = track(t, await connect(server.url, '/events', { auth: { token: token(SECRET, { sub: 'alice' }) } }));
    assert.equal(await emitWithAck(socket, 'message', 'hi'), 'Message received');
    const got = once(socket, 'notification');
    const res = await request(server.url, '/notifications/send', {
      method: 'POST', body: { userId: 'alice', message: 'from the file key' }, headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(res.status, 201);
    assert.equal(await got, 'from the file key');
    // log_json from the file: every log line is JSON, and connections carry the client and user.
    const lines = server.stderr().trim().split('\n').filter(Boolean);
    assert.ok(lines.length > 0);
    const parsed = lines.map((l) => JSON.parse(l));
    assert.ok(parsed.some((l) => l.fields?.message === 'connected' && l.fields.user === 'alice' && l.fields.client), server.stderr());
    assert.ok(parsed.some((l) => l.span?.name === 'http' && l.span.path === '/notifications/send' && l.span.api_key === 0), server.stderr());
  });

  it('with no configuration at all, the server makes its secrets and prints a dev token and the API key', async (t) => {
    const server = await startIogate({ JWT_SECRET: undefined, API_KEY: undefined });
    t.after(() => server.stop());
    // The secrets are printed just after the listening line.
    for (let i = 0; i < 50 && !server.stdout().includes('API_KEY is not set'); i++) await sleep(20);
    const out = server.stdout();
    assert.match(out, /JWT_SECRET is not set: a random secret was made for this run\./);
    const dev = /valid 24 h\):\n\s+(\S+)/.exec(out)?.[1];
    const key = /the REST API key for this run is (\S+)/.exec(out)?.[1];
    assert.ok(dev && key, out);
    const socket = track(t, await connect(server.url, '/events', { auth: { token: dev } }));
    assert.equal(await emitWithAck(socket, 'message', 'hi'), 'Message received');
    assert.equal((await request(server.url, '/api/rooms', { headers: { authorization: `Bearer ${key}` } })).status, 200);
  });
});
