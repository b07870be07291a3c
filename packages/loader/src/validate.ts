import { isUuid } from '@hogport/common';
import { MAX_EVENT_BYTES } from './destination.js';

/** Why an event cannot be sent, as a code and a message a user can act on. */
export interface EventProblem {
  code: string;
  message: string;
}

/**
 * Checks one serialised event against capture's contract before it is sent, for every destination
 * alike, so a dry run refuses exactly what PostHog would. hogport is stricter than capture in one
 * way: an event must carry a uuid and a timestamp, because without them a re-send cannot collapse.
 * Returns the uuid, or the problem.
 */
export function validateEvent(line: string, options: { checked?: boolean } = {}): { uuid: string } | EventProblem {
  const bytes = Buffer.byteLength(line);
  if (bytes > MAX_EVENT_BYTES) return { code: 'E_EVENT_TOO_LARGE', message: `the event is ${bytes} bytes serialised; capture refuses events over ${MAX_EVENT_BYTES}` };
  if (options.checked && line.startsWith('{"uuid":"') && line.charCodeAt(45) === 0x22) {
    // Written by hogport's transform, which checked the whole event against this contract and put
    // the uuid first: parsing every line again would double the load's work for nothing.
    const uuid = line.slice(9, 45);
    if (isUuid(uuid)) return { uuid };
  }
  let e: unknown;
  try {
    e = JSON.parse(line);
  } catch {
    return { code: 'E_EVENT_NOT_JSON', message: 'the line is not valid JSON' };
  }
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return { code: 'E_EVENT_NOT_OBJECT', message: 'an event must be a JSON object' };
  const ev = e as Record<string, unknown>;
  if (typeof ev.event !== 'string' || ev.event === '') return { code: 'E_EVENT_NO_NAME', message: '"event" must be a non-empty string' };
  const props = ev.properties;
  if (props !== undefined && !isObject(props)) return { code: 'E_EVENT_BAD_PROPERTIES', message: '"properties" must be an object' };
  for (const field of ['$set', '$set_once'] as const) {
    if (ev[field] !== undefined && !isObject(ev[field])) return { code: 'E_EVENT_BAD_PROPERTIES', message: `"${field}" must be an object` };
  }
  const did = ev.distinct_id ?? (props as Record<string, unknown> | undefined)?.distinct_id;
  if (!((typeof did === 'string' && did !== '') || (typeof did === 'number' && Number.isFinite(did)))) {
    return { code: 'E_EVENT_NO_DISTINCT_ID', message: 'the event has no distinct_id (top level or in properties)' };
  }
  if (typeof ev.uuid !== 'string' || !isUuid(ev.uuid)) {
    return { code: 'E_EVENT_NO_UUID', message: `the event has ${ev.uuid === undefined ? 'no uuid' : `an invalid uuid ${JSON.stringify(ev.uuid)}`}: without a stable uuid a re-send would duplicate it` };
  }
  if (typeof ev.timestamp !== 'string' || Number.isNaN(Date.parse(ev.timestamp))) {
    return { code: 'E_EVENT_BAD_TIMESTAMP', message: `the event has ${ev.timestamp === undefined ? 'no timestamp' : `an invalid timestamp ${JSON.stringify(ev.timestamp)}`}` };
  }
  return { uuid: ev.uuid };
}

function isObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
