/**
 * An update's signals (ItemsChanged and a PropertiesChanged per path) leave in one socket write:
 * on a GX device each write is a system call here and a wake-up of dbus-daemon there. Checked on
 * a real connection to a private dbus-daemon, at the socket, and on what a client receives.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connectBus, startService } from '../../src/dbus/index.js';
import { startDbusDaemon, type DbusDaemon } from '../support/dbus-daemon.js';
import { BusClient, IFACE } from '../support/bus-client.js';
import { waitFor } from '../support/wait.js';
import { batteryItems, uniqueServiceName } from './helpers.js';

let daemon: DbusDaemon;
let client: BusClient;

before(async () => {
  daemon = await startDbusDaemon();
  client = await BusClient.connect(daemon.address);
  await client.addMatch(`type='signal',interface='${IFACE}'`);
});

after(async () => {
  client?.close();
  await daemon?.stop();
});

/** Counts the socket's writes: `_write` for one buffer, `_writev` for several at once. */
function countWrites(stream: { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void }) {
  const counts = { single: 0, vectored: 0, chunks: 0 };
  const write = stream._write.bind(stream);
  const writev = stream._writev!.bind(stream);
  stream._write = (...a: unknown[]) => {
    counts.single++;
    counts.chunks++;
    write(...a);
  };
  stream._writev = (...a: unknown[]) => {
    counts.vectored++;
    counts.chunks += (a[0] as unknown[]).length;
    writev(...a);
  };
  return counts;
}

test('connectBus: what together() sends is one socket write, in order', async () => {
  const conn = await connectBus(daemon.address, 5000);
  try {
    const stream = (conn.bus as unknown as { _connection: { stream: Parameters<typeof countWrites>[0] } })._connection.stream;
    const counts = countWrites(stream);
    conn.together(() => {
      for (const b of [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]) assert.equal(conn.write(b), true);
    });
    assert.deepEqual(counts, { single: 0, vectored: 1, chunks: 3 });
  } finally {
    await conn.close();
  }
});

test('a service with PropertiesChanged sends an update in one write, and clients get every signal', async () => {
  const name = uniqueServiceName('together');
  const svc = await startService({ serviceName: name, busAddress: daemon.address, items: batteryItems(), propertiesChanged: true });
  try {
    const conn = (svc as unknown as { conn: { bus: unknown } }).conn;
    const stream = (conn.bus as { _connection: { stream: Parameters<typeof countWrites>[0] } })._connection.stream;
    const counts = countWrites(stream);
    const since = client.signals.length;
    svc.apply([
      ['/Soc', { value: 71, text: '71%' }],
      ['/Dc/0/Current', { value: 2, text: '2A' }],
      ['/Dc/0/Voltage', { value: 53, text: '53V' }],
    ]);
    assert.deepEqual(counts, { single: 0, vectored: 1, chunks: 4 });
    const mine = () => client.signals.slice(since).filter((m) => m.sender === svc.uniqueName);
    await waitFor(() => mine().length >= 4, 'four signals');
    assert.deepEqual(
      mine().map((m) => `${m.member} ${m.path}`),
      ['ItemsChanged /', 'PropertiesChanged /Soc', 'PropertiesChanged /Dc/0/Current', 'PropertiesChanged /Dc/0/Voltage'],
    );
  } finally {
    await svc.close();
  }
});
