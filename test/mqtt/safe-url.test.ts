import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeUrl } from '../../src/mqtt/index.js';

test('broker URLs in the log never carry a user or password, whatever they hold', () => {
  const secret = ['P@ss:w0rd', 'a/b@c', 'x%40y', '@@@', 'p:a:s:s'];
  for (const pw of secret) {
    for (const url of [`mqtt://user:${pw}@127.0.0.1:1883`, `mqtts://u:${pw}@broker.local:8883/`, `mqtt://${pw}@127.0.0.1`]) {
      const shown = safeUrl(url);
      for (const part of pw.split(/[@:/]/).filter((p) => p.length > 1))
        assert.ok(!shown.includes(part), `${url} → ${shown} leaks "${part}"`);
      assert.doesNotMatch(shown, /user|@/);
      assert.match(shown, /^mqtts?:\/\/(127\.0\.0\.1|broker\.local)/);
    }
  }
  assert.equal(safeUrl('mqtt://127.0.0.1:1883'), 'mqtt://127.0.0.1:1883');
  assert.equal(safeUrl('mqtt://user:pw@[bad'), 'mqtt://[bad', 'an unparseable URL keeps only what follows the userinfo');
});

test('credentials come out of the URL whole, @ / : and percent-encoding included', async () => {
  const { urlCredentials } = await import('../../src/mqtt/index.js');
  assert.deepEqual(urlCredentials('mqtt://user:P@ss:w0rd/x@127.0.0.1:1883'), { username: 'user', password: 'P@ss:w0rd/x' });
  assert.deepEqual(urlCredentials('mqtt://user:P%40ss%3Aw0rd%2Fx@127.0.0.1:1883'), { username: 'user', password: 'P@ss:w0rd/x' });
  assert.deepEqual(urlCredentials('mqtt://only@host'), { username: 'only' });
  assert.deepEqual(urlCredentials('mqtt://127.0.0.1:1883'), {});
});
