/** How a mapping's input document is built from messages (the mapping file's `input:`). */
export interface InputSpec {
  format?: 'json' | 'tree';
  unwrap?: string;
  merge?: boolean;
  topic?: string;
  /** Default availability topic of the battery's sources; `{base}` = the source filter without its last level (a trailing /# or its last topic level). */
  availability?: { topic: string; online?: string; offline?: string };
}
