/**
 * Which of a battery's sources are fresh. A source is fresh while a message of its own delivered
 * values within its timeout (a rejected or empty message, or a retained one, delivers nothing). A
 * battery is live only while every required source is fresh; an optional source going stale only
 * loses its own values (which expire from the document by themselves, see input/store.ts).
 * A source whose availability topic said `offline` is stale at once and stays so, whatever data
 * arrives, until the topic says `online` again; `online` itself makes nothing fresh.
 * Pure bookkeeping with times handed in, so it is tested without timers.
 */
import type { Source } from '../config/index.js';
import { topicMatches } from '../input/index.js';

export interface SourceState extends Source {
  /** When the source last delivered values; -Infinity before the first. */
  lastFresh: number;
  stale: boolean;
  /** Its availability topic last said offline. */
  offline: boolean;
}

export class Freshness {
  readonly sources: SourceState[];

  /** The pack sources (config `packs`); empty for a battery without packs. */
  readonly packs: SourceState[];

  constructor(
    sources: Source[],
    private readonly minPacksOnline = 1,
  ) {
    this.sources = sources.map((s) => ({ ...s, lastFresh: -Infinity, stale: true, offline: false }));
    this.packs = this.sources.filter((s) => s.pack !== undefined);
  }

  /** Packs fresh now (counting `delivering` as fresh). */
  packsOnline(delivering?: ReadonlySet<SourceState>): number {
    return this.packs.filter((s) => !s.offline && (!s.stale || delivering?.has(s) === true)).length;
  }

  /** Why the battery is not live, for the log. */
  why(delivering?: ReadonlySet<SourceState>): string {
    const silent = this.silentRequired(delivering).map((s) => s.topic);
    if (silent.length) return `required source ${silent.join(', ')} silent`;
    return `${this.packsOnline(delivering)} of ${this.packs.length} packs online, fewer than minPacksOnline ${this.minPacksOnline}`;
  }

  /** The source whose availability topic this is (exact match: availability topics have no wildcards). */
  availabilityOf(topic: string): SourceState | undefined {
    return this.sources.find((s) => s.availability && s.availability.topic === topic);
  }

  /** Availability says offline: stale now. True when it was not offline already. */
  setOffline(source: SourceState): boolean {
    const changed = !source.offline;
    source.offline = true;
    source.stale = true;
    return changed;
  }

  /** Availability says online: data from it counts again (it is fresh only once data comes). True when it was offline. */
  setOnline(source: SourceState): boolean {
    const changed = source.offline;
    source.offline = false;
    return changed;
  }

  /** The source a topic belongs to (the first whose filter matches). */
  sourceOf(topic: string): SourceState | undefined {
    return this.sources.find((s) => topicMatches(s.topic, topic));
  }

  markFresh(source: SourceState, now: number): void {
    if (source.offline) return;
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

  /** Every source stale (the battery went stale and forgot its data); what availability said is kept. */
  reset(): void {
    for (const s of this.sources) s.stale = true;
  }

  /** True while every required source is fresh and, with packs, at least minPacksOnline packs are; `delivering` counts as fresh. */
  live(delivering?: ReadonlySet<SourceState>): boolean {
    if (!this.sources.every((s) => !s.required || !s.stale || delivering?.has(s) === true)) return false;
    return this.packs.length === 0 || this.packsOnline(delivering) >= this.minPacksOnline;
  }

  /** The required sources that are not fresh (for the log). */
  silentRequired(delivering?: ReadonlySet<SourceState>): SourceState[] {
    return this.sources.filter((s) => s.required && s.stale && !delivering?.has(s));
  }
}
