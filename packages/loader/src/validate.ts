import { checkEventLine, type Refusal } from '@hogport/event';

/** Why an event cannot be sent, as a code and a message a user can act on. */
export interface EventProblem {
  code: string;
  message: string;
}

/**
 * Checks one serialised event against capture's contract before it is sent (the contract's own
 * check, `checkEventLine` of @hogport/event), for every destination alike, so a dry run refuses
 * exactly what PostHog would. Returns the uuid, or the problem.
 */
export function validateEvent(line: string, options: { checked?: boolean } = {}): { uuid: string } | EventProblem {
  const checked: { uuid: string } | Refusal = checkEventLine(line, options);
  return 'uuid' in checked ? checked : { code: checked.code, message: checked.reason };
}
