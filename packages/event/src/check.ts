import { isUuid } from '@hogport/common';
import { MAX_DISTINCT_ID_LENGTH, MAX_EVENT_BYTES, RejectCode, type Refusal } from './contract.js';
import { HEAD_PREFIXES } from './finish.js';
import { idTooLong } from './ids.js';

/**
 * Checks one serialised event against capture's contract before it is sent, for every destination
 * alike, so a dry run refuses exactly what PostHog would. hogport is stricter than capture in two
 * ways: an event must carry a uuid and a timestamp, because without them a re-send cannot collapse,
 * and a distinct_id longer than capture keeps is refused rather than cut. Returns the uuid, or why not.
 *
 * `checked`: the line comes from hogport's transform, which checked the whole event and wrote
 * `HEAD_KEYS` first; those are checked without parsing the properties.
 */
export function checkEventLine(line: string, options: { checked?: boolean } = {}): { uuid: string } | Refusal {
  const bytes = Buffer.byteLength(line);
  if (bytes > MAX_EVENT_BYTES) return { code: RejectCode.tooLarge, reason: `the event is ${bytes} bytes serialised; capture refuses events over ${MAX_EVENT_BYTES}` };
  if (options.checked) {
    const uuid = readHead(line);
    if (uuid) return { uuid };
  }
  let e: unknown;
  try {
    e = JSON.parse(line);
  } catch {
    return { code: RejectCode.invalidJson, reason: 'the line is not valid JSON' };
  }
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return { code: RejectCode.notAnObject, reason: 'an event must be a JSON object' };
  const ev = e as Record<string, unknown>;
  if (typeof ev.event !== 'string' || ev.event === '') return { code: RejectCode.missingEvent, reason: '"event" must be a non-empty string' };
  const props = ev.properties;
  if (props !== undefined && !isObject(props)) return { code: RejectCode.badProperties, reason: '"properties" must be an object' };
  for (const field of ['$set', '$set_once'] as const) {
    if (ev[field] !== undefined && !isObject(ev[field])) return { code: RejectCode.badProperties, reason: `"${field}" must be an object` };
  }
  const did = ev.distinct_id ?? (props && Object.hasOwn(props, 'distinct_id') ? (props as Record<string, unknown>).distinct_id : undefined);
  if (!((typeof did === 'string' && did !== '') || (typeof did === 'number' && Number.isFinite(did)))) {
    return { code: RejectCode.missingDistinctId, reason: 'the event has no distinct_id (top level or in properties)' };
  }
  if (typeof did === 'string' && idTooLong(did)) {
    return { code: RejectCode.distinctIdTooLong, reason: `the distinct_id is longer than the ${MAX_DISTINCT_ID_LENGTH} characters capture keeps: sent, it would merge with any other id sharing them` };
  }
  if (typeof ev.uuid !== 'string' || !isUuid(ev.uuid)) {
    return { code: RejectCode.badUuid, reason: `the event has ${ev.uuid === undefined ? 'no uuid' : `an invalid uuid ${JSON.stringify(ev.uuid)}`}: without a stable uuid a re-send would duplicate it` };
  }
  if (typeof ev.timestamp !== 'string' || Number.isNaN(Date.parse(ev.timestamp))) {
    return { code: RejectCode.badTimestamp, reason: `the event has ${ev.timestamp === undefined ? 'no timestamp' : `an invalid timestamp ${JSON.stringify(ev.timestamp)}`}` };
  }
  return { uuid: ev.uuid };
}

function isObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}


/**
 * The uuid of a line in the transform's own layout whose head (`HEAD_KEYS`) passes capture's rules
 * (and whose properties are an object); undefined for anything else, which is then checked in full.
 */
export function readHead(line: string): string | undefined {
  const head = readHeadFields(line);
  if (!head) return undefined;
  const { uuid, event, distinctId, timestamp } = head;
  return isUuid(uuid) && event !== '' && distinctId !== '' && !idTooLong(distinctId) && !Number.isNaN(Date.parse(timestamp)) ? uuid : undefined;
}

/** The head of an events line: what PostHog deduplicates an event on. */
export interface EventHead {
  uuid: string;
  event: string;
  distinctId: string;
  timestamp: string;
}

/**
 * The four head members of a line in the transform's own layout, read without parsing the rest;
 * undefined for a line in any other shape (the caller parses it, when it must know).
 */
export function readHeadFields(line: string): EventHead | undefined {
  const values: string[] = [];
  let at = 0;
  for (const key of HEAD_PREFIXES) {
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
  return { uuid, event, distinctId, timestamp };
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
