/** How a mapping's input document is built from messages (the mapping file's `input:`). */
export interface InputSpec {
  format?: 'json' | 'tree';
  unwrap?: string;
  merge?: boolean;
  topic?: string;
}
