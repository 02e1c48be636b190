// One remoting command (RemotingCommand in Java): a request or a response, with its header
// fields, its extFields ("custom header" values, always strings on the wire as Java sees them)
// and an optional body. Frames and headers are in frame.ts, json-header.ts, binary-header.ts.
import { assert } from '../util/assert.js';
import { OUR_VERSION } from './codes.js';

export const SerializeType = { JSON: 0, ROCKETMQ: 1 } as const;
export type SerializeTypeValue = (typeof SerializeType)[keyof typeof SerializeType];

/** flag bit0: this command is a response. */
export const FLAG_RESPONSE = 1;
/** flag bit1: the sender wants no response. */
export const FLAG_ONEWAY = 2;

export interface RemotingCommand {
  code: number;
  language: string;
  version: number;
  opaque: number;
  flag: number;
  remark: string | null;
  extFields: Record<string, string>;
  body: Buffer | null;
  serializeType: SerializeTypeValue;
}

/** Malformed bytes on the wire. The connection that sent them is closed. */
export class RemotingFrameError extends Error {
  override name = 'RemotingFrameError';
  /** The request's opaque when the header got that far, so an error answer can be matched. */
  readonly opaque: number | null;
  constructor(message: string, opaque: number | null = null) {
    super(message);
    this.opaque = opaque;
  }
}

export function isResponse(command: RemotingCommand): boolean {
  return (command.flag & FLAG_RESPONSE) !== 0;
}

export function isOneway(command: RemotingCommand): boolean {
  return (command.flag & FLAG_ONEWAY) !== 0;
}

/** Opaques are process-wide and wrap within int32 as Java's AtomicInteger does. */
let nextOpaque = 1;
export function allocateOpaque(): number {
  const opaque = nextOpaque;
  nextOpaque = nextOpaque === 0x7fffffff ? 1 : nextOpaque + 1;
  return opaque;
}

export interface CommandOptions {
  extFields?: Record<string, string | number | boolean | bigint | null | undefined>;
  body?: Buffer | null;
  remark?: string | null;
}

export function createRequest(code: number, options: CommandOptions = {}): RemotingCommand {
  return {
    code,
    language: 'JAVA',
    version: OUR_VERSION,
    opaque: allocateOpaque(),
    flag: 0,
    remark: options.remark ?? null,
    extFields: stringifyFields(options.extFields ?? {}),
    body: options.body ?? null,
    serializeType: SerializeType.JSON,
  };
}

/** A response to `request`: same opaque, response flag set, the request's serialize type. */
export function createResponse(request: RemotingCommand, code: number, options: CommandOptions = {}): RemotingCommand {
  assert(!isResponse(request), 'createResponse needs a request');
  return {
    code,
    language: 'JAVA',
    version: OUR_VERSION,
    opaque: request.opaque,
    flag: FLAG_RESPONSE,
    remark: options.remark ?? null,
    extFields: stringifyFields(options.extFields ?? {}),
    body: options.body ?? null,
    serializeType: request.serializeType,
  };
}

function stringifyFields(fields: Record<string, string | number | boolean | bigint | null | undefined>): Record<string, string> {
  const out = Object.create(null) as Record<string, string>; // a "__proto__" field is just a field
  for (const [key, value] of Object.entries(fields)) if (value !== null && value !== undefined) out[key] = String(value);
  return out;
}
