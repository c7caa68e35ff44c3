import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineOf, parseYaml } from '../../src/util/yaml-file.js';

test("lineOf uses the parser's own positions: block style, flow style, lists, quoted keys", () => {
  const doc = parseYaml(
    't.yaml',
    [
      '# comment',
      'name: x',
      'paths:',
      '  /A: {type: d, value: "a",',
      '       text: "%i"}',
      '  "/B":',
      '    type: d',
      '    value:',
      '      - first',
      '      - second',
      'list: [1, 2]',
      'nested: {deep: {deeper: 1}}',
    ].join('\n'),
  );
  assert.equal(lineOf(doc, ['name']), 2);
  assert.equal(lineOf(doc, ['paths', '/A']), 4);
  assert.equal(lineOf(doc, ['paths', '/A', 'text']), 5, 'a key inside a flow mapping on its own line');
  assert.equal(lineOf(doc, ['paths', '/B', 'value', 1]), 10);
  assert.equal(lineOf(doc, ['paths', '/B', 'value', '1']), 10, 'indexes as strings (JSON pointers)');
  assert.equal(lineOf(doc, ['paths', '/B', 'nothing']), 6, 'the deepest ancestor found');
  assert.equal(lineOf(doc, ['nested', 'deep', 'deeper']), 12);
  assert.equal(lineOf(doc, ['missing']), undefined);
});
