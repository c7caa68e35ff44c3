/** MQTT topic filters: matching, and which levels of a topic a document is keyed by. */

export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * The levels of `topic` that key it in a topic-tree document: those matched by the filter's
 * trailing `#` (`jk-bms/#` + `jk-bms/sensor/soc/state` → sensor, soc, state), or every level
 * when the filter has no `#`.
 */
export function documentKeys(filter: string, topic: string): string[] {
  const f = filter.split('/');
  const t = topic.split('/');
  return f[f.length - 1] === '#' ? t.slice(f.length - 1) : t;
}

export function validTopicFilter(filter: string): string | undefined {
  if (filter === '') return 'a topic filter must not be empty';
  const levels = filter.split('/');
  for (const [i, l] of levels.entries()) {
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return `"#" must be a whole last level in "${filter}"`;
    if (l.includes('+') && l !== '+') return `"+" must be a whole level in "${filter}"`;
  }
  return undefined;
}

/** An availability topic is one exact topic: a wildcard could let any topic speak for the BMS. */
export function validAvailabilityTopic(topic: string): string | undefined {
  if (topic === '') return 'an availability topic must not be empty';
  if (/[#+]/.test(topic)) return `an availability topic is one topic, without + or #: "${topic}"`;
  return undefined;
}
