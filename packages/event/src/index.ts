export { MAX_EVENT_BYTES, MAX_DISTINCT_ID_LENGTH, RejectCode, Changed, type PostHogEvent, type Refusal, type LongDistinctIds } from './contract.js';
export { finishEvent, finishRecord, HEAD_KEYS, LINK_REFUSED, type EventSettings, type FinishContext, type Finished, type FinishedRecord, type Link } from './finish.js';
export { checkEventLine, readHead } from './check.js';
export { checkedId, idTooLong, truncatedId } from './ids.js';
export { guardedMapping, mappingFailure, serialisationFailure, recordText, MAX_RECORD_TEXT } from './guard.js';
