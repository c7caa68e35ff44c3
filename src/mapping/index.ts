/**
 * The mapping stage: input document → frame of typed path values. It imports neither MQTT nor
 * D-Bus, so `vbat check` runs offline.
 */
import { loadYamlFile, parseYaml } from '../util/yaml-file.js';
import { mappingPath } from '../util/package-root.js';
import type { Frame } from '../venus/types.js';
import { compileMapping, type CompiledMapping, type CompileOptions } from './compile.js';
import type { Evaluation } from './evaluate.js';

export {
  compileMapping,
  MappingProblemsError,
  pathReferences,
  type CompiledMapping,
  type CompiledPath,
  type CompiledExpr,
  type CompiledCommand,
} from './compile.js';
export { commandPayload, commandSeconds, commandValueProblem, type CommandPayload } from './command.js';
export { Evaluator, Origin, type Evaluation } from './evaluate.js';
export { HELPERS } from './helpers.js';
export { catalogueNames, isCataloguePath, suggestPath } from './catalogue.js';
export { unknownVariables } from './variables.js';
export type { CommandEntry, InputSpec, MappingFile, PathEntry } from './model.js';

/** Load and compile a mapping file; throws FileProblemsError with file:line reasons. */
export function loadMapping(file: string, opts?: CompileOptions): CompiledMapping {
  return compileMapping(loadYamlFile(file), opts);
}

/** Compile a mapping from text (tests, embedded mappings). */
export function parseMapping(text: string, file = '<mapping>'): CompiledMapping {
  return compileMapping(parseYaml(file, text));
}

/** The shipped default mapping (the dbus-mqtt-battery JSON structure). */
export function defaultMappingFile(): string {
  return mappingPath('default.yaml');
}

/** Frame of the paths an evaluation changed (all paths with `all`). */
export function frameOf(mapping: CompiledMapping, ev: Evaluation, all = false): Frame {
  const frame: Frame = new Map();
  const indexes = all ? mapping.paths.map((p) => p.index) : ev.changed;
  for (const i of indexes) frame.set(mapping.paths[i]!.path, { value: ev.values[i]!, text: ev.texts[i]! });
  return frame;
}
