import { startServer, connect, record, sleep } from './helpers/server.mjs';
const srv = await startServer();
const s = await connect(srv.url, '/', { transports: ['polling'] });
const rec = record(s);
const acked = [];
for (let i = 0; i < 3000; i++) s.emit('events', { seq: i }, (b) => acked.push(b.seq));
for (let k = 0; k < 5; k++) { await sleep(2000); console.log('acked', acked.length, 'exceptions', rec.all.length, 'connected', s.connected); }
// smaller burst
for (const n of [10, 50, 128, 200]) {
  const a = []; const before = rec.all.length;
  for (let i = 0; i < n; i++) s.emit('events', i, (b) => a.push(b));
  await sleep(1500);
  console.log('burst', n, 'acked', a.length, 'exceptions', rec.all.length - before);
}
s.close();
const w = await connect(srv.url, '/', { transports: ['websocket'] });
const rw = record(w);
for (const n of [10, 50, 128, 200, 300]) {
  const a = []; const before = rw.all.length;
  for (let i = 0; i < n; i++) w.emit('events', i, (b) => a.push(b));
  await sleep(1000);
  console.log('ws burst', n, 'acked', a.length, 'exceptions', rw.all.length - before);
}
w.close();
await srv.stop();
