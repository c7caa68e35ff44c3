/** JSONata's AST is untyped; these are the fields vbat reads (fast.ts) and rewrites (strict.ts). */
export interface Node {
  type: string;
  value?: unknown;
  steps?: Node[];
  stages?: unknown[];
  arguments?: Node[];
  procedure?: Node;
  condition?: Node;
  then?: Node;
  else?: Node;
  lhs?: Node;
  rhs?: Node;
  expression?: Node;
  expressions?: Node[];
  [other: string]: unknown;
}
