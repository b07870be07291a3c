export { MAX_EVENT_BYTES, MAX_DISTINCT_ID_LENGTH, POSTHOG_GUIDANCE, RejectCode, Changed, type PostHogEvent, type Refusal, type LongDistinctIds, type NonMergeableIds } from './contract.js';
export { finishEvent, finishPerson, finishRecord, HEAD_KEYS, LINK_REFUSED, type EventSettings, type FinishContext, type Finished, type FinishedLink, type FinishedRecord, type Link, type PersonRecord } from './finish.js';
export { checkEventLine, readHead, readHeadFields, type EventHead } from './check.js';
export { checkedId, checkedLinkId, idTooLong, isNonMergeableId, truncatedId } from './ids.js';
export { guardedMapping, mappingFailure, serialisationFailure, recordText, MAX_RECORD_TEXT } from './guard.js';
