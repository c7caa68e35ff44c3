/** Broken mappings are refused with file, line and a plain reason. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FileProblemsError, formatProblem } from '../../src/errors.js';
import { parseMapping } from '../../src/mapping/index.js';

function problems(text: string): string[] {
  try {
    parseMapping(text, 'broken.yaml');
  } catch (err) {
    assert.ok(err instanceof FileProblemsError, String(err));
    return err.problems.map(formatProblem);
  }
  assert.fail('the mapping was accepted');
}

test('bad YAML: line and column of the parser', () => {
  const p = problems('paths:\n  /Soc:\n    type: d\n   value: [oops\n');
  assert.equal(p.length, 1);
  assert.match(p[0]!, /^broken\.yaml:4:\d+: invalid YAML: /);
});

test('schema violations point at the offending key', () => {
  const p = problems(
    [
      'paths:',
      '  /Soc:',
      '    type: d',
      '    value: Soc',
      '  /Dc/0/Voltage:',
      '    type: double',
      '    value: Dc.Voltage',
      '    colour: red',
    ].join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:6: paths › \/Dc\/0\/Voltage › type: must be one of "d", "i"/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:8: paths › \/Dc\/0\/Voltage › colour: unknown key "colour"/.test(x)),
    p.join('\n'),
  );
});

test('JSONata syntax errors name the line, the character and the expression', () => {
  const p = problems(
    ['paths:', '  /Soc:', '    type: d', '    value: Soc', '  /Dc/0/Power:', '    type: d', '    value: Dc.Power *', ''].join('\n'),
  );
  assert.equal(p.length, 1);
  assert.match(p[0]!, /^broken\.yaml:7: \/Dc\/0\/Power value: JSONata error at character \d+: .* in `Dc\.Power \*`/);
});

test('expression lists report the line of the failing item', () => {
  const p = problems(
    ['paths:', '  /Capacity:', '    type: d', '    fallback:', '      - InstalledCapacity - ConsumedAmphours', '      - $round(', ''].join(
      '\n',
    ),
  );
  assert.match(p[0]!, /^broken\.yaml:6: \/Capacity fallback: JSONata error/);
});

test('bad text format, default of the wrong type, min above max', () => {
  const p = problems(
    [
      'paths:',
      '  /Soc:',
      '    type: d',
      '    value: Soc',
      '    text: "%q"',
      '    min: 10',
      '    max: 5',
      '  /State:',
      '    type: i',
      '    value: State',
      '    default: "running"',
      '',
    ].join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:5: \/Soc: format "%q": unknown directive/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:6: \/Soc: min 10 is above max 5/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:11: \/State: default: expected a number/.test(x)),
    p.join('\n'),
  );
});

test('unknown $path targets, cycles and unknown required paths', () => {
  const p = problems(
    [
      'required: [/Soc, /Nope]',
      'paths:',
      '  /A:',
      '    type: d',
      "    value: $path('/B')",
      '  /B:',
      '    type: d',
      "    value: $path('/A')",
      '  /Soc:',
      '    type: d',
      "    value: $path('/Missing')",
      '',
    ].join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:1: required: \/Nope is not one of the mapping's paths/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:9: \/Soc: \$path\('\/Missing'\) names a path this mapping does not define/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /cycle: \/A → \/B → \/A/.test(x)),
    p.join('\n'),
  );
});

test('ranges need the {n} placeholder and vice versa; duplicates are refused', () => {
  const p = problems(
    [
      'paths:',
      '  /Voltages/Cell{n}:',
      '    type: d',
      '    value: Voltages.Cell{n}',
      '  /Balances/Cell:',
      '    range: [1, 4]',
      '    type: i',
      '    value: 1',
      '  /X{n}:',
      '    range: [1, 2]',
      '    type: d',
      '    value: 1',
      '  /X1:',
      '    type: d',
      '    value: 2',
      '',
    ].join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:2: \/Voltages\/Cell\{n\}: the key has \{n\} but no `range`/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:5: \/Balances\/Cell: `range` needs the placeholder/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:13: \/X1: path \/X1 is already defined by \/X\{n\}/.test(x)),
    p.join('\n'),
  );
});

test('an interval must be a number or a declared variable', () => {
  const p = problems(['paths:', '  /TimeToGo:', '    type: d', '    fallback: 1', '    interval: $nope', ''].join('\n'));
  assert.match(p[0]!, /^broken\.yaml:5: \/TimeToGo: interval "\$nope" must be a number or \$variable/);
});

test('a broken command is refused with its line: wildcard topic, bad payload expression, writable: false, unknown key', () => {
  const p = problems(
    [
      'paths:',
      '  /Io/AllowToCharge:',
      '    type: i',
      '    value: x',
      '    command:',
      '      topic: bms/#',
      '      payload: "$value = 1 ?"',
      '  /Io/AllowToDischarge:',
      '    type: i',
      '    value: y',
      '    writable: false',
      '    command: {topic: bms/d, payload: "$value"}',
      '  /Io/AllowToBalance:',
      '    type: i',
      '    value: z',
      '    command: {topic: bms/b, payload: "$value", qos: 3, confirm: 0, repeat: 2}',
    ].join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:6: .*topic: must match pattern/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /broken\.yaml:16: .*qos: must be one of 0, 1, 2/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /broken\.yaml:16: .*unknown key "repeat"/.test(x)),
    p.join('\n'),
  );
  // Shape errors stop compilation; the expression and writable problems come once the shape is right.
  const q = problems(
    [
      'paths:',
      '  /Io/AllowToCharge:',
      '    type: i',
      '    value: x',
      '    command:',
      '      topic: bms/c',
      '      payload: "$value = 1 ?"',
      '  /Io/AllowToDischarge:',
      '    type: i',
      '    value: y',
      '    writable: false',
      '    command: {topic: bms/d, payload: "$value"}',
    ].join('\n'),
  );
  assert.ok(
    q.some((x) => /^broken\.yaml:7: \/Io\/AllowToCharge command: JSONata error/.test(x)),
    q.join('\n'),
  );
  assert.ok(
    q.some((x) => /^broken\.yaml:11: .*a path with a command is writable/.test(x)),
    q.join('\n'),
  );
});

test('an availability topic with a wildcard is refused with its line', () => {
  const p = problems(
    ['input:', '  format: tree', '  availability: {topic: "{base}/+/status"}', 'paths:', '  /Soc: {type: d, value: Soc}'].join('\n'),
  );
  assert.ok(
    p.some((x) => /^broken\.yaml:3: input › availability: an availability topic is one topic, without \+ or #/.test(x)),
    p.join('\n'),
  );
});
