// The JSON header (serialize type 0): fastjson's rendering of RemotingCommand, keys in
// alphabetical order as fastjson writes them. Decoding accepts what Java accepts, and turns every
// scalar extFields value into a string (Java reads extFields as HashMap<String,String>, so the
// numbers and booleans ali-ons sends arrive as strings); a header of the wrong shape or with
// fields of the wrong type is a RemotingFrameError naming the field.
import { RemotingFrameError, type RemotingCommand } from './command.js';
import { readJson, SCALAR, SkippedContainer, type JsonShape } from './json-reader.js';

/**
 * The fields read (json-reader.ts, linear, skipping the rest): a header can be as large as the
 * frame, and JSON.parse of a 16 MiB header of distinct extFields keys took ~1.6 s (issue 11).
 * extFields' keys are data, read into a Map of at most EXT_FIELDS_MAX entries (Java's headers
 * have fewer than 40 fields; building a Map of a million keys took ~0.8 s).
 */
export const EXT_FIELDS_MAX = 1024;
const HEADER_SHAPE: JsonShape = {
  kind: 'object',
  fields: { code: SCALAR, extFields: { kind: 'map', values: SCALAR, maxEntries: EXT_FIELDS_MAX }, flag: SCALAR, language: SCALAR, opaque: SCALAR, remark: SCALAR, version: SCALAR },
};

export type HeaderFields = Omit<RemotingCommand, 'body' | 'serializeType'>;

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

export function encodeJsonHeader(command: RemotingCommand): Buffer {
  const header: Record<string, unknown> = {
    code: command.code,
    // Always present, even empty: ali-ons reads response extFields as a plain object.
    extFields: command.extFields,
    flag: command.flag,
    language: command.language,
    opaque: command.opaque,
    ...(command.remark === null ? {} : { remark: command.remark }),
    serializeTypeCurrentRPC: 'JSON',
    version: command.version,
  };
  return Buffer.from(JSON.stringify(header), 'utf8');
}

export function decodeJsonHeader(bytes: Buffer): HeaderFields {
  let parsed: unknown;
  try {
    parsed = readJson(bytes, HEADER_SHAPE);
  } catch (error) {
    throw new RemotingFrameError(`JSON header is not valid JSON: ${(error as Error).message}`);
  }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || parsed instanceof SkippedContainer) {
    throw new RemotingFrameError(`JSON header is ${describe(parsed)}, expected an object`);
  }
  const header = parsed as Record<string, unknown>;
  // opaque first, so later errors can still be answered to the right request.
  const opaque = int32Field(header, 'opaque', null);
  const code = int32Field(header, 'code', opaque);
  const flag = int32Field(header, 'flag', opaque);
  const version = int32Field(header, 'version', opaque);
  const language = header['language'] ?? 'JAVA';
  if (typeof language !== 'string') throw new RemotingFrameError(`header field "language" is ${describe(language)}, expected a string`, opaque);
  const remark = header['remark'] ?? null;
  if (remark !== null && typeof remark !== 'string') throw new RemotingFrameError(`header field "remark" is ${describe(remark)}, expected a string`, opaque);
  return { code, language, version, opaque, flag, remark, extFields: extFieldsOf(header['extFields'], opaque) };
}

function int32Field(header: Record<string, unknown>, name: string, opaque: number | null): number {
  const value = header[name];
  if (value === undefined || value === null) return 0; // Java leaves a missing int field at 0
  if (typeof value !== 'number' || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    throw new RemotingFrameError(`header field "${name}" is ${describe(value)}, expected a 32-bit integer`, opaque);
  }
  return value;
}

function extFieldsOf(value: unknown, opaque: number): Record<string, string> {
  const fields = Object.create(null) as Record<string, string>; // no prototype: a "__proto__" key is just a key
  if (value === undefined || value === null) return fields;
  if (!(value instanceof Map)) {
    throw new RemotingFrameError(`header field "extFields" is ${describe(value)}, expected an object`, opaque);
  }
  for (const [key, item] of value as Map<string, unknown>) {
    if (item === null) continue; // a null value is an absent field to Java's typed headers
    if (typeof item === 'string') fields[key] = item;
    else if (typeof item === 'number' || typeof item === 'boolean') fields[key] = String(item);
    else throw new RemotingFrameError(`extFields["${key}"] is ${describe(item)}, expected a string, number or boolean`, opaque);
  }
  return fields;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof SkippedContainer) return `an ${value.kind}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value} ${String(value)}`;
}
