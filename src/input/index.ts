/** The input stage's front door: MQTT message → input document. */
export { DocumentBuilder, type Accepted, type DocumentOptions, type RefusalKind } from './document.js';
export { documentKeys, topicMatches, validTopicFilter } from './topics.js';
