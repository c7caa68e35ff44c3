/**
 * Which of a battery's sources are fresh. A battery is live only while every required source has
 * delivered a valid message within its timeout; an optional source going stale only loses its
 * own values. Pure bookkeeping with an injected clock, so it is tested without timers.
 */
import type { Source } from '../config/index.js';
import { topicMatches } from '../input/index.js';

export interface SourceState extends Source {
  /** When the last valid, fresh (not retained) message arrived; -Infinity before the first. */
  lastFresh: number;
  stale: boolean;
}

export class Freshness {
  readonly sources: SourceState[];

  constructor(sources: Source[]) {
    this.sources = sources.map((s) => ({ ...s, lastFresh: -Infinity, stale: true }));
  }

  /** The source a topic belongs to (the first whose filter matches). */
  sourceOf(topic: string): SourceState | undefined {
    return this.sources.find((s) => topicMatches(s.topic, topic));
  }

  markFresh(source: SourceState, now: number): void {
    source.lastFresh = now;
    source.stale = false;
  }

  /** Sources whose timeout ran out since the last call (each reported once per staleness). */
  expire(now: number): SourceState[] {
    const expired: SourceState[] = [];
    for (const s of this.sources) {
      if (!s.stale && now - s.lastFresh >= s.timeout * 1000) {
        s.stale = true;
        expired.push(s);
      }
    }
    return expired;
  }

  /** True while every required source is fresh. */
  get live(): boolean {
    return this.sources.every((s) => !s.required || !s.stale);
  }
}
