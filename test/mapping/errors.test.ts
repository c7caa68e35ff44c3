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
      '  /TimeToSoC/{n}:',
      '    range: [1, 2]',
      '    type: s',
      '    value: 1',
      '  /TimeToSoC/1:',
      '    type: s',
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
    p.some((x) => /^broken\.yaml:13: \/TimeToSoC\/1: path \/TimeToSoC\/1 is already defined by \/TimeToSoC\/\{n\}/.test(x)),
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

test('a misspelled Victron path is refused with its line and the path it was meant to be', () => {
  const p = problems(
    ['paths:', '  /Soc: {type: d, value: Soc}', '  /Info/MaxChargeCurent:', '    type: d', '    value: limit', ''].join('\n'),
  );
  assert.equal(p.length, 1, p.join('\n'));
  assert.match(p[0]!, /^broken\.yaml:3: \/Info\/MaxChargeCurent: .*not a Victron battery path: did you mean \/Info\/MaxChargeCurrent\?/);
  // Numbered paths are suggested with their number; case slips are caught too.
  const q = problems(
    ['paths:', '  /Voltages/Cel{n}: {type: d, value: "c[{n}]", range: [1, 4]}', '  /soc: {type: d, value: Soc}', ''].join('\n'),
  );
  assert.ok(
    q.some((x) => /^broken\.yaml:2: \/Voltages\/Cel\{n\}: .*did you mean \/Voltages\/Cell1\?/.test(x)),
    q.join('\n'),
  );
  assert.ok(
    q.some((x) => /^broken\.yaml:3: \/soc: .*did you mean \/Soc\?/.test(x)),
    q.join('\n'),
  );
});

test('a path of its own is declared custom: true; without it, one far from any Victron path says so', () => {
  assert.doesNotThrow(() => parseMapping('paths:\n  /Custom/PackCount: {type: i, value: n, custom: true}\n'));
  const p = problems('paths:\n  /Custom/PackCount: {type: i, value: n}\n');
  assert.match(p[0]!, /^broken\.yaml:2: \/Custom\/PackCount: .*not a Victron battery path .*declare it with custom: true/);
});

test('the service paths vbat sets itself are refused, custom or not, with their line', () => {
  const p = problems(
    [
      'paths:',
      '  /Soc: {type: d, value: Soc}',
      '  /CustomName: {type: s, value: name, writable: true}',
      '  /FirmwareVersion: {type: s, value: fw}',
      '  /Connected: {type: i, value: 1}',
      '  /ProductName: {type: s, value: p, custom: true}',
      '  /Vbat/Anything: {type: i, value: 1, custom: true}',
      '',
    ].join('\n'),
  );
  assert.equal(p.length, 5, p.join('\n'));
  assert.match(p[0]!, /^broken\.yaml:3: \/CustomName: \/CustomName is a service path vbat sets itself from the battery's customName/);
  assert.match(p[1]!, /^broken\.yaml:4: \/FirmwareVersion: .*service path/);
  assert.match(p[2]!, /^broken\.yaml:5: \/Connected: .*service path vbat sets itself from whether fresh data arrives/);
  assert.match(p[3]!, /^broken\.yaml:6: \/ProductName: .*service path/);
  assert.match(p[4]!, /^broken\.yaml:7: \/Vbat\/Anything: .*service path/);
});

test('a text format that is not printf is refused, with the printf spelling', () => {
  const p = problems(['paths:', '  /Dc/0/Current:', '    type: d', '    value: I', '    text: "{:.1f}A"', ''].join('\n'));
  assert.match(p[0]!, /^broken\.yaml:5: \/Dc\/0\/Current: format "\{:\.1f\}A" is not a printf format.*write "%\.1fA"/);
});

test('a range entry whose expression does not use its {n} is refused', () => {
  const p = problems(
    [
      'paths:',
      '  /Voltages/Cell{n}:',
      '    range: [1, 16]',
      '    type: d',
      '    value: cells[0]',
      '  /Balances/Cell{n}: {range: [1, 2], type: i, value: 0}',
      '',
    ].join('\n'),
  );
  assert.equal(p.length, 1, 'a constant number is fine');
  assert.match(p[0]!, /^broken\.yaml:5: \/Voltages\/Cell\{n\}: `cells\[0\]` does not use \{n\}/);
});

test('every kind of problem in one pass: schema, JSONata, format, path name, $path, each with its line', () => {
  const p = problems(
    [
      'paths:',
      '  /Soc: {type: double, value: Soc}',
      '  /Dc/0/Power: {type: d, value: "Dc.Power *"}',
      '  /Dc/0/Voltage: {type: d, value: V, text: "%q"}',
      '  /Dc/0/Curent: {type: d, value: I}',
      '  /Capacity: {type: d, value: "$path(\'/Nope\')"}',
      '  /ConsumedAmphours: {type: d, value: "$path(\'/Soc\')"}',
      '',
    ].join('\n'),
  );
  const lines = p.map((x) => Number(/^broken\.yaml:(\d+):/.exec(x)?.[1]));
  assert.deepEqual([...new Set(lines)].sort(), [2, 3, 4, 5, 6], p.join('\n'));
  assert.ok(!p.some((x) => /ConsumedAmphours/.test(x)), 'a $path to an entry the schema refused is not reported again');
});
