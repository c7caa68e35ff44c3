/** The input stage's front door: MQTT message → input document. */
export { DEFAULT_MAX_TOPICS, DocumentBuilder, type Accepted, type DocumentOptions, type RefusalKind } from './document.js';
export { MAX_DEPTH } from './sanitize.js';
export type { InputSpec } from './spec.js';
export { documentKeys, topicMatches, validAvailabilityTopic, validTopicFilter } from './topics.js';
