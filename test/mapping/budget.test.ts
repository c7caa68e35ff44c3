/**
 * The expression budget (src/mapping/budget.ts): runaway regexes, allocation, recursion and
 * loops fail as their own path's problem, fast enough that nothing else waits long; normal
 * expressions give exactly what plain JSONata gives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import jsonata from 'jsonata';
import { FileProblemsError, formatProblem } from '../../src/errors.js';
import { BudgetRegExp, budgetOptions, installBudget, LIMITS, regexRefusal, setBudgetLimits } from '../../src/mapping/budget.js';
import { Evaluator, parseMapping } from '../../src/mapping/index.js';

/** Evaluate `runaway` as /Bad beside two normal paths; returns the evaluation and its time. */
async function beside(runaway: string, doc: unknown = {}) {
  const m = parseMapping(
    [
      'paths:',
      `  /Bad: {custom: true, type: s, value: ${JSON.stringify(runaway)}}`,
      '  /Soc: {type: d, value: Soc}',
      '  /Sum: {custom: true, type: d, value: "$sum(cells)"}',
      '',
    ].join('\n'),
  );
  const t = Date.now();
  const ev = await new Evaluator(m).evaluate({ Soc: 55, cells: [3.2, 3.3], ...(doc as object) });
  return { ms: Date.now() - t, bad: ev.values[0], problem: ev.problems[0] ?? '', soc: ev.values[1], sum: ev.values[2] };
}

/** The runaway path failed with `re`, the others kept their values, within `maxMs`. */
async function stopped(runaway: string, re: RegExp, opts: { doc?: unknown; maxMs?: number } = {}) {
  const r = await beside(runaway, opts.doc);
  assert.equal(r.bad, null, `${runaway} gave ${String(r.bad)}`);
  assert.match(r.problem, /^expression failed: /);
  assert.match(r.problem, re);
  assert.equal(r.soc, 55, 'the other paths are untouched');
  assert.equal(r.sum, 6.5);
  assert.ok(r.ms < (opts.maxMs ?? 1000), `${runaway} took ${r.ms} ms`);
  return r;
}

function refused(text: string): string[] {
  try {
    parseMapping(text, 'regex.yaml');
  } catch (err) {
    assert.ok(err instanceof FileProblemsError, String(err));
    return err.problems.map(formatProblem);
  }
  assert.fail('the mapping was accepted');
}

// ----------------------------------------------------------------------------------- regexes

test('exponential regex shapes are refused at compile time with file and line', () => {
  const p = refused(
    [
      'paths:',
      '  /Soc: {type: d, value: Soc}',
      '  /Name:',
      '    custom: true',
      '    type: s',
      '    value: "$match(name, /^(a+)+$/).match"',
      '  /Ok: {custom: true, type: s, value: "$replace(x, /(\\\\w+\\\\s?)*$/, \'\')"}',
      '',
    ].join('\n'),
  );
  assert.equal(p.length, 2, p.join('\n'));
  assert.match(
    p[0]!,
    /^regex\.yaml:6: \/Name value: regex \/\^\(a\+\)\+\$\/ refused: \(a\+\)\+ can backtrack exponentially: it repeats a\+, which itself repeats; rewrite it/,
  );
  assert.match(p[1]!, /^regex\.yaml:7: \/Ok value: regex .* refused: .*it repeats \\w\+, which itself repeats/);
});

test('what counts as an exponential shape, and what does not', () => {
  const bad = [
    '(a+)+',
    '(a*)*b',
    '(?:\\d+)*x',
    '((ab)+)*',
    '(\\w+\\s?)*$',
    '(\\d|\\w)+$',
    '(a|a)*',
    '(.|\\s)*x',
    '(x+x+)+y',
    '(\\d+\\d?)+$',
    '(a{1,3})*$',
    '(\\s*,\\s*)*x',
  ];
  for (const src of bad) assert.ok(regexRefusal(src), `${src} should be refused`);
  const good = [
    '(\\d+,)*\\d+',
    '^(\\d+)\\.(\\d+)$',
    '[^0-9.]',
    '(.|\\n)*',
    '(a{2})*',
    '(a|b)+',
    '\\s+',
    '^\\s*(\\d+)\\s*V$',
    '(\\d+\\.){3}\\d+',
    'ON|OFF',
    '(?:\\w+\\.)+\\w+',
    '[(]+)*',
    '\\(a+\\)+',
  ];
  for (const src of good) assert.equal(regexRefusal(src), undefined, `${src} should be accepted`);
  assert.ok(regexRefusal('(A|a)+', 'i'), 'case-insensitive alternatives overlap');
  assert.equal(regexRefusal('(A|a)+'), undefined);
});

test('a catastrophic regex the compile-time check misses is interrupted at the budget', async () => {
  const s = 'x'.repeat(40);
  const r = await stopped('$string($match(s, /(x|xx)+y/))', /regex \/\(x\|xx\)\+y\/ ran longer than the expression's 100 ms/, {
    doc: { s },
    maxMs: 600,
  });
  assert.ok(r.ms >= 90, `it ran its budget (${r.ms} ms)`);
  // $eval builds its regex at run time, out of reach of the compile-time check.
  await stopped('$string($eval("$contains(s, /^(x+x+)+y/)"))', /ran longer than the expression's 100 ms/, { doc: { s }, maxMs: 600 });
  await stopped("$replace(s, /(x|xx)+y/, '-')", /ran longer/, { doc: { s }, maxMs: 600 });
  await stopped("$join($split(s, /(x|xx)+y/), ',')", /ran longer/, { doc: { s }, maxMs: 600 });
});

test('regexes give what JavaScript regexes give, natively or interruptibly', async () => {
  const doc = { v: '52.30V', modes: 'Bulk,Absorption, float', text: 'Line1\nline2\nLINE3', id: 'ab12cd345' };
  const exprs = [
    "$replace(v, /[^0-9.]/, '')",
    '$match(v, /^(\\d+)\\.(\\d+)(V)$/)',
    '$match(id, /\\d+/)',
    '$match(id, /[a-z]+/, 1)',
    '$split(modes, /,\\s*/)',
    '$contains(modes, /absorption/i)',
    '$match(text, /^line\\d$/im).match',
    "$replace(id, /(\\d)(\\d)/, '$2$1')",
    '$replace(modes, /[aeiou]/, function($m) { $uppercase($m.match) })',
    '$count($match(modes, /o/))',
    '$map($match(id, /([a-z])([a-z])/), function($m) { $m.groups })',
    "$split('a1b2c3', /\\d/, 2)",
    "$contains('x', /y/)",
    "$match('', /a*/)",
  ];
  const plain = async (src: string) => JSON.stringify(await jsonata(src).evaluate(doc));
  const budgeted = async (src: string) => {
    const e = jsonata(src, budgetOptions());
    installBudget(e);
    return JSON.stringify(await e.evaluate(doc).catch((err: { code?: string }) => `error ${err.code}`));
  };
  const plainOrError = (src: string) => plain(src).catch((err: { code?: string }) => `error ${err.code}`);
  for (const src of exprs) assert.equal(await budgeted(src), await plainOrError(src), src);
  const restore = setBudgetLimits({ nativeRegexWork: 0 }); // every exec interruptible
  try {
    for (const src of exprs) assert.equal(await budgeted(src), await plainOrError(src), `${src} (interruptible)`);
  } finally {
    restore();
  }
});

test('BudgetRegExp keeps lastIndex like a global RegExp', () => {
  const r = new BudgetRegExp(/a(\d)/g);
  assert.equal(r.exec('a1 a2')?.[1], '1');
  assert.equal(r.lastIndex, 2);
  assert.equal(r.exec('a1 a2')?.index, 3);
  assert.equal(r.exec('a1 a2'), null);
  assert.equal(r.lastIndex, 0);
  assert.equal(r.source, 'a(\\d)');
});

test('regexes refuse strings over the length limit', async () => {
  const restore = setBudgetLimits({ stringLength: 100 });
  try {
    await stopped('$string($contains(s, /z/))', /regex \/z\/ refused a string of 200 characters \(at most 100\)/, {
      doc: { s: 'y'.repeat(200) },
    });
  } finally {
    restore();
  }
});

// -------------------------------------------------------------------------------- allocation

test('a recursive function doubling a string stops before memory runs out', async () => {
  await stopped(
    "($f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1)}; $f('x', 40))",
    /expression made a string of 2,097,152 characters \(at most 1,048,576\)/,
  );
  await stopped(
    "($f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1)}; $string($length($f('x', 27))))",
    /a string of 2,097,152 characters/,
  );
});

test('structures doubled by sharing count as large as their JSON', async () => {
  const dag = "($f := function($a, $n){ $n = 0 ? $a : $f({'a': $a, 'b': $a}, $n - 1)}; $f({}, 40))";
  await stopped(`$string(${dag})`, /made a value of more than 1,048,576 characters written out/);
  await stopped(`$string($count(${dag}.**))`, /made a value of more than 1,048,576/);
  await stopped('($f := function($a, $n){ $n = 0 ? $a : $f([[$a], [$a]], $n - 1)}; $string($f([1], 40)))', /made a value of more than/);
});

test('arrays, sequences and ranges are capped before they are allocated', async () => {
  await stopped('$string($count([1..10000000]))', /made a sequence or range of 10,000,000 items than allowed \(at most 10,000\)/, {
    maxMs: 300,
  });
  await stopped('$string($count([1..10001]))', /at most 10,000/);
  const ok = await beside('$string($count([1..10000]))');
  assert.equal(ok.bad, '10000', ok.problem);
  await stopped('($f := function($a, $n){ $n = 0 ? $a : $f($append($a, $a), $n - 1)}; $string($count($f([1], 40))))', /at most 10,000/);
  // Measured from the 16th step on (before that, nothing built can be large for the heap).
  await stopped(
    "$string($count($map([1, 2], function($i){ $split($pad('', 20000), '') })))",
    /expression made an array of 20,000 items \(at most 10,000\)/,
  );
});

test('built-ins that make a lot in one step are checked before they run', async () => {
  await stopped("$string($length($pad('', 100000000)))", /\$pad width: 100,000,000 is above the limit of 1,048,576/, { maxMs: 300 });
  await stopped("$pad('', 600000, 'ab')", /\$pad width: 1,200,000 is above the limit/);
  await stopped(
    "($s := $pad('', 1000, 'x'); $join([$s, $s, $s], $pad('', 1000000)))",
    /\$join result length: 2,003,000 is above the limit/,
  );
  await stopped("$replace($pad('', 2000, 'a'), 'a', $pad('', 1000, '$0'))", /\$replace result length \(worst case\)/);
  await stopped('$string($sort([1..5000]))', /\$sort items: 5,000 is above the limit of 1,000/, { maxMs: 300 });
  await stopped('$string($distinct([1..5000]))', /\$distinct items: 5,000 is above the limit of 1,000/);
  const small = await beside(
    "$join([$pad('a', 3, '-'), $string($sort([3, 1, 2])), $string($distinct([1, 1, 2])), $replace('a.b', /[.]/, '$0$0')], ' ')",
  );
  assert.equal(small.bad, 'a-- [1,2,3] [1,2] a..b', small.problem);
});

test('memory built up over many small steps is stopped', async () => {
  const restore = setBudgetLimits({ heapGrowth: 1 << 20 });
  try {
    await stopped(
      "$string($count($map([1..5000], function($i){ $pad('', 100, $string($i)) })))",
      /expression used more than 1 MB of memory/,
    );
  } finally {
    restore();
  }
  const ok = await beside("$string($count($map([1..500], function($i){ $pad('', 100, $string($i)) })))");
  assert.equal(ok.bad, '500', `the normal limit leaves room: ${ok.problem}`);
});

test('accumulating big strings in a loop is stopped by time or memory, not by the OS', async () => {
  await stopped(
    "$string($count($map([1..1000], function($i){ $pad('', 1000000) })))",
    /ran longer than 100 ms|used more than \d+ MB of memory|more than 1,048,576/,
  );
});

// ------------------------------------------------------------------------ recursion and loops

test('runaway recursion, deep and tail, fails as its own path', async () => {
  await stopped(
    '($f := function($n){ 1 + $f($n + 1) }; $string($f(0)))',
    /expression nested deeper than 1,000 levels \(runaway recursion\?\)/,
  );
  const tail = await stopped(
    '($f := function($n){ $f($n + 1) }; $string($f(0)))',
    /ran longer than 100 ms|used more than \d+ MB of memory/,
    { maxMs: 600 },
  );
  assert.ok(tail.ms >= 50, `${tail.ms} ms`);
  await stopped(
    '$string($count($map([1..10000], function($i){ $sum($map([1..1000], function($j){ $i * $j })) })))',
    /ran longer than 100 ms|used more than \d+ MB of memory/,
    { maxMs: 600 },
  );
  const fact = await beside('($f := function($n){ $n <= 1 ? 1 : $n * $f($n - 1) }; $string($f(100)))');
  assert.equal(fact.bad, '9.33262154439441e+157', 'legitimate recursion stays within the budget');
});

// ------------------------------------------------------------------- fairness and per-evaluation clocks

test('a runaway evaluation yields: the event loop and other evaluations get through within a slice', async () => {
  const runaway = parseMapping('paths:\n  /X: {custom: true, type: d, value: "($f := function($n){ $f($n + 1) }; $f(0))"}\n');
  const normal = parseMapping('paths:\n  /Sum: {custom: true, type: d, value: "$sum(cells)"}\n');
  let gap = 0;
  let last = Date.now();
  const ticker = setInterval(() => {
    gap = Math.max(gap, Date.now() - last);
    last = Date.now();
  }, 1);
  const started = Date.now();
  const slow = new Evaluator(runaway).evaluate({});
  // Meanwhile another battery evaluates every 5 ms; each must be done within a couple of slices.
  const others: number[] = [];
  const normalEval = new Evaluator(normal);
  const loop = (async () => {
    for (let k = 0; k < 10; k++) {
      await new Promise((r) => setTimeout(r, 5));
      const t = Date.now();
      const ev = await normalEval.evaluate({ cells: [1, 2, 3] });
      assert.equal(ev.values[0], 6);
      others.push(Date.now() - t);
    }
  })();
  const ev = await slow;
  const slowMs = Date.now() - started;
  await loop;
  clearInterval(ticker);
  assert.match(ev.problems[0]!, /ran longer than 100 ms|used more than/);
  assert.ok(Math.max(...others) < 60, `other evaluations waited ${others.join(', ')} ms`);
  assert.ok(gap < 60, `the event loop was blocked for ${gap} ms`);
  // Their evaluations do not count against the runaway's budget, nor extend it without bound.
  assert.ok(slowMs < 1000, `the runaway took ${slowMs} ms`);
});

test('evaluations interleaved on the microtask queue are each charged their own time', async () => {
  const runaway = new Evaluator(parseMapping('paths:\n  /X: {custom: true, type: i, value: "$count($match(s, /(x|xx)+y/))"}\n'));
  const normal = new Evaluator(
    parseMapping(
      "paths:\n  /Y: {custom: true, type: s, value: \"$join($map([1..200], function($i){ $replace(t, /b/, 'B') & $i }), '')\"}\n",
    ),
  );
  const [a, b] = await Promise.all([runaway.evaluate({ s: 'x'.repeat(40) }), normal.evaluate({ t: 'abc' })]);
  assert.match(a.problems[0]!, /ran longer than the expression's 100 ms/);
  assert.equal(b.problems[0], undefined, 'the runaway regex is not charged to the evaluation beside it');
  assert.match(String(b.values[0]), /^aBc1aBc2/);
});

test('limits are in force for every evaluation', () => {
  assert.equal(LIMITS.timeMs, 100);
  assert.ok(LIMITS.heapGrowth >= 8 << 20 && LIMITS.heapGrowth <= 64 << 20);
});

test('normal expressions give exactly what JSONata gives', async () => {
  const doc = {
    Dc: { Voltage: 52.7, Power: -100.5 },
    cells: { Cell1: 3.3, Cell2: 3.31 },
    packs: [
      { soc: 80, name: 'A' },
      { soc: 70, name: 'B' },
    ],
    when: '2024-05-01 12:30',
  };
  const exprs = [
    '$sum(cells.*)',
    '$round(Dc.Voltage * 1.001, 2)',
    '$max(cells.*) - $min(cells.*)',
    "$string(Dc.Power) & 'W'",
    '$average($map($keys(cells), function($k){ $lookup(cells, $k) }))',
    'packs[soc > 75].name',
    '$join(packs.name, ", ")',
    '$sort(packs, function($a, $b){ $a.soc > $b.soc }).name',
    '$distinct([1, 2, 2, packs[0].soc, 80])',
    "$pad('x', -5, '#')",
    "$toMillis(when, '[Y0001]-[M01]-[D01] [H01]:[m01]')",
    '$string({"a": packs, "b": cells})',
    '[1..5]',
    '$reduce([1..10], function($a, $b){ $a + $b })',
    'packs{name: soc}',
    '$spread(cells)',
    '$zip([1, 2], [3, 4])',
    '$append([1, 2], [3])',
    '$count(**)',
  ];
  for (const src of exprs) {
    const e = jsonata(src, budgetOptions());
    installBudget(e);
    assert.equal(JSON.stringify(await e.evaluate(doc)), JSON.stringify(await jsonata(src).evaluate(doc)), src);
  }
});
