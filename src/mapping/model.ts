/** The mapping file as written (after schema validation), and its compiled form. */
import type { InputSpec } from '../input/index.js';
import type { DbusType } from '../venus/types.js';

export type { InputSpec };

export type Expressions = string | number | string[];

export interface PathEntry {
  type: DbusType;
  value?: Expressions;
  fallback?: Expressions;
  default?: number | string;
  text?: string;
  min?: number;
  max?: number;
  writable?: boolean;
  command?: CommandEntry;
  interval?: number | string;
  range?: number[];
  description?: string;
  /** A path of the mapping's own, deliberately outside the battery path catalogue. */
  custom?: boolean;
}

/** Write-back: what a SetValue on the path publishes to the BMS (see the schema). */
export interface CommandEntry {
  topic: string;
  payload: string;
  qos?: 0 | 1 | 2;
  retain?: boolean;
  /** Seconds, or `$variable`. */
  confirm?: number | string;
  /** Seconds, or `$variable`. */
  minInterval?: number | string;
}

export interface MappingFile {
  name?: string;
  description?: string;
  input?: InputSpec;
  required?: string[];
  variables?: Record<string, { default: number | string | boolean; description?: string }>;
  paths: Record<string, PathEntry>;
}

/** Where an expression or entry came from, for error messages. */
export interface SourceRef {
  file: string;
  line?: number;
}
