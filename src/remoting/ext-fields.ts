// Typed reads of a request's extFields, as Java's decodeCommandCustomHeader does for the fields
// of a *RequestHeader class: a missing required field or a value that does not parse is an
// ExtFieldError naming the field, which the server answers with SYSTEM_ERROR and its message.
import type { RemotingCommand } from './command.js';

export class ExtFieldError extends Error {
  override name = 'ExtFieldError';
}

export function optionalString(command: RemotingCommand, name: string): string | null {
  return Object.hasOwn(command.extFields, name) ? (command.extFields[name] as string) : null;
}

export function requiredString(command: RemotingCommand, name: string): string {
  const value = optionalString(command, name);
  if (value === null) throw new ExtFieldError(`the request header field "${name}" is required (request code ${command.code})`);
  return value;
}

/** Java Integer/Long fields parsed from decimal text; numbers must be safe integers here. */
export function optionalInteger(command: RemotingCommand, name: string): number | null {
  const text = optionalString(command, name);
  if (text === null) return null;
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (!/^[+-]?[0-9]+$/.test(trimmed) || !Number.isSafeInteger(value)) {
    throw new ExtFieldError(`the request header field "${name}" is ${JSON.stringify(text)}, expected an integer`);
  }
  return value;
}

export function requiredInteger(command: RemotingCommand, name: string): number {
  const value = optionalInteger(command, name);
  if (value === null) throw new ExtFieldError(`the request header field "${name}" is required (request code ${command.code})`);
  return value;
}

/** Java's Boolean.parseBoolean: "true" in any case is true, anything else false. */
export function optionalBoolean(command: RemotingCommand, name: string): boolean | null {
  const text = optionalString(command, name);
  return text === null ? null : text.trim().toLowerCase() === 'true';
}
