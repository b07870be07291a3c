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
  if (options.checked) {
    // Written by hogport's transform, which checked the whole event and wrote uuid, event,
    // distinct_id and timestamp first: those are checked here without parsing the properties.
    const uuid = checkedHead(line);
    if (uuid) return { uuid };
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

const HEAD = ['{"uuid":', ',"event":', ',"distinct_id":', ',"timestamp":'] as const;

/**
 * The uuid of a line in the transform's own layout whose first four fields pass capture's rules
 * (and whose properties are an object); undefined for anything else, which is then checked in full.
 */
function checkedHead(line: string): string | undefined {
  const values: string[] = [];
  let at = 0;
  for (const key of HEAD) {
    if (!line.startsWith(key, at)) return undefined;
    const start = at + key.length;
    const end = jsonStringEnd(line, start);
    if (end < 0) return undefined;
    values.push(line.slice(start, end));
    at = end;
  }
  if (!line.startsWith(',"properties":{', at)) return undefined;
  let parsed: string[];
  try {
    parsed = values.map((v) => JSON.parse(v) as string);
  } catch {
    return undefined;
  }
  const [uuid, event, distinctId, timestamp] = parsed as [string, string, string, string];
  return isUuid(uuid) && event !== '' && distinctId !== '' && !Number.isNaN(Date.parse(timestamp)) ? uuid : undefined;
}

/** The index just after the JSON string starting at `start` (a quote), or -1. */
function jsonStringEnd(line: string, start: number): number {
  if (line.charCodeAt(start) !== 0x22) return -1;
  for (let i = start + 1; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x5c) i += 1;
    else if (c === 0x22) return i + 1;
  }
  return -1;
}
