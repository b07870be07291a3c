import { MAX_EVENT_NAMES, OTHER_EVENT_NAMES } from '@hogport/manifest';

/**
 * Events per UTC day and per name, as a transform manifest records them (`eventDays`,
 * `eventNames`), counted from each written event's timestamp and name: timestamps are normalized
 * to UTC by then, so the day is the first ten characters, and nothing is parsed again.
 */
export class EventTally {
  private readonly days = new Map<string, number>();
  private readonly names = new Map<string, number>();
  private other = 0;

  add(event: string, timestamp: string): void {
    const day = timestamp.slice(0, 10);
    this.days.set(day, (this.days.get(day) ?? 0) + 1);
    const n = this.names.get(event);
    if (n !== undefined) this.names.set(event, n + 1);
    else if (this.names.size < MAX_EVENT_NAMES) this.names.set(event, 1);
    else this.other += 1;
  }

  /** The manifest's fields, in key order so equal chunks write equal manifests. */
  fields(): { eventDays: Record<string, number>; eventNames: Record<string, number> } {
    const sorted = (m: Map<string, number>) => Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const eventNames = sorted(this.names);
    if (this.other > 0) eventNames[OTHER_EVENT_NAMES] = this.other;
    return { eventDays: sorted(this.days), eventNames };
  }
}
