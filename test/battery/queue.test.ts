import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageQueue } from '../../src/battery/queue.js';
import { sleep } from '../support/wait.js';

/** Batches the queue hands on while messages arrive 5 ms apart. */
async function batchesOf(settleMs: number): Promise<string[][]> {
  const batches: string[][] = [];
  const q = new MessageQueue<{ topic: string }>({
    latestOnly: false,
    max: 100,
    settleMs,
    handle: (batch) => {
      batches.push(batch.map((m) => m.topic));
      return Promise.resolve();
    },
    onOverflow: () => assert.fail('no overflow'),
    onError: (err) => assert.fail(String(err)),
  });
  for (const t of ['a', 'b', 'c']) {
    q.push({ topic: t });
    await sleep(5);
  }
  await sleep(settleMs + 20);
  await q.idle();
  return batches;
}

test('queue: with settleMs a batch gathers what arrives within that time of its first message', async () => {
  assert.deepEqual(await batchesOf(100), [['a', 'b', 'c']]);
});

test('queue: without it, messages of different socket reads are different batches', async () => {
  assert.deepEqual(await batchesOf(0), [['a'], ['b'], ['c']]);
});
