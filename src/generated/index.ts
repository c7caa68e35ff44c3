/**
 * The schema validators, compiled ahead of time from schemas/*.json by service/build-validators.mjs
 * (ajv standalone code), so vbat never runs ajv's schema compiler. Each returns whether the data
 * is valid and leaves ajv's errors on its `errors` property; the config one also fills in the
 * schema's defaults, as ajv's useDefaults does.
 */
import type { ErrorObject } from 'ajv';
import { validate as config } from './config-validator.js';
import { validate as mapping } from './mapping-validator.js';

export interface SchemaValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

export const validateConfigSchema = config as SchemaValidator;
export const validateMappingSchema = mapping as SchemaValidator;
