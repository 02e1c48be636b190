// The body of REGISTER_BROKER, in each form brokers send it:
// - version < V3_0_11: a bare TopicConfigSerializeWrapper JSON
//   {"topicConfigTable":{name:TopicConfig},"dataVersion":{...}};
// - later: RegisterBrokerBody JSON {"topicConfigSerializeWrapper":{...},"filterServerList":[]};
// - later with extFields compressed=true (compressedRegister): zlib-deflated binary
//     int32 len + DataVersion JSON | int32 topicCount | (int32 len + TopicConfig.encode())* |
//     int32 len + filterServerList JSON [| 5.x: int32 count + (int32 len + mapping JSON)*]
//   where TopicConfig.encode() is "name read write perm filterType[ attributesJson]".
// Anything else is a RegisterBodyError naming what was wrong.
import zlib from 'node:zlib';
import { MQVersion } from '../remoting/codes.js';
import { toFastjson } from '../remoting/fastjson.js';
import { readJson, SCALAR, SkippedContainer, type JsonShape } from '../remoting/json-reader.js';
import type { DataVersion, TopicConfig } from './route-types.js';

export class RegisterBodyError extends Error {
  override name = 'RegisterBodyError';
}

export interface RegisterBody {
  readonly topicConfigs: TopicConfig[];
  readonly dataVersion: DataVersion | null;
}

/** Defaults of Java's TopicConfig for fields a body leaves out. */
const DEFAULT_QUEUE_NUMS = 16;
const DEFAULT_PERM = 6;
/** A registration body inflates to at most this much (the frame cap is 16 MiB compressed). */
const INFLATED_MAX_BYTES = 64 * 1024 * 1024;

/** What is read of a body (json-reader.ts): anything else is checked and skipped, never built. */
const DATA_VERSION_SHAPE: JsonShape = { kind: 'object', fields: { timestamp: SCALAR, stateVersion: SCALAR, counter: { kind: 'object', fields: { value: SCALAR } } } };
const TOPIC_CONFIG_SHAPE: JsonShape = {
  kind: 'object',
  fields: { topicName: SCALAR, readQueueNums: SCALAR, writeQueueNums: SCALAR, perm: SCALAR, topicFilterType: SCALAR, topicSysFlag: SCALAR, order: SCALAR },
};
/** TopicConfigSerializeWrapper; topicConfigTable's keys are topic names, read as a Map. */
export const WRAPPER_SHAPE: JsonShape = { kind: 'object', fields: { topicConfigTable: { kind: 'map', values: TOPIC_CONFIG_SHAPE }, dataVersion: DATA_VERSION_SHAPE } };
export const REGISTER_BROKER_BODY_SHAPE: JsonShape = { kind: 'object', fields: { topicConfigSerializeWrapper: WRAPPER_SHAPE } };

export function parseRegisterBody(body: Buffer | null, version: number, compressed: boolean): RegisterBody {
  if (body === null || body.length === 0) return { topicConfigs: [], dataVersion: null };
  if (version < MQVersion.V3_0_11) return parseWrapper(parseJson(body, WRAPPER_SHAPE), 'body');
  if (compressed) return parseCompressed(body);
  const parsed = parseJson(body, REGISTER_BROKER_BODY_SHAPE);
  if (!isObject(parsed)) throw new RegisterBodyError('RegisterBrokerBody is not a JSON object');
  const wrapper = parsed['topicConfigSerializeWrapper'];
  if (wrapper === undefined || wrapper === null) return { topicConfigs: [], dataVersion: null };
  return parseWrapper(wrapper, 'topicConfigSerializeWrapper');
}

function parseJson(body: Buffer, shape: JsonShape): unknown {
  try {
    return readJson(body, shape);
  } catch (error) {
    throw new RegisterBodyError(`register body: ${(error as Error).message}`);
  }
}

function parseWrapper(value: unknown, where: string): RegisterBody {
  if (!isObject(value)) throw new RegisterBodyError(`${where} is not a JSON object`);
  const table = value['topicConfigTable'] ?? new Map<string, unknown>();
  if (!(table instanceof Map)) throw new RegisterBodyError(`${where}.topicConfigTable is not a JSON object`);
  const topicConfigs = [...(table as Map<string, unknown>)].map(([name, config]) => topicConfigFromJson(name, config, `${where}.topicConfigTable["${name}"]`));
  return { topicConfigs, dataVersion: dataVersionFromJson(value['dataVersion'], `${where}.dataVersion`) };
}

function topicConfigFromJson(key: string, value: unknown, where: string): TopicConfig {
  if (!isObject(value)) throw new RegisterBodyError(`${where} is not a JSON object`);
  const topicName = value['topicName'] ?? key;
  if (typeof topicName !== 'string' || topicName.length === 0) throw new RegisterBodyError(`${where}.topicName is not a non-empty string`);
  const topicFilterType = value['topicFilterType'] ?? 'SINGLE_TAG';
  if (typeof topicFilterType !== 'string') throw new RegisterBodyError(`${where}.topicFilterType is not a string`);
  const order = value['order'] ?? false;
  if (typeof order !== 'boolean') throw new RegisterBodyError(`${where}.order is not a boolean`);
  return {
    topicName,
    readQueueNums: intField(value, 'readQueueNums', DEFAULT_QUEUE_NUMS, where),
    writeQueueNums: intField(value, 'writeQueueNums', DEFAULT_QUEUE_NUMS, where),
    perm: intField(value, 'perm', DEFAULT_PERM, where),
    topicFilterType,
    topicSysFlag: intField(value, 'topicSysFlag', 0, where),
    order,
  };
}

function dataVersionFromJson(value: unknown, where: string): DataVersion | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new RegisterBodyError(`${where} is not a JSON object`);
  const counter = value['counter'];
  // fastjson writes AtomicLong counter as a number; some writers nest it as {"value":n}.
  const counterValue = isObject(counter) ? counter['value'] : counter;
  return {
    timestamp: intField(value, 'timestamp', 0, where),
    stateVersion: intField(value, 'stateVersion', 0, where),
    counter: typeof counterValue === 'number' && Number.isSafeInteger(counterValue) ? counterValue : 0,
  };
}

function intField(object: Record<string, unknown>, name: string, fallback: number, where: string): number {
  const value = object[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new RegisterBodyError(`${where}.${name} is ${JSON.stringify(value)}, expected a non-negative integer`);
  return value;
}

function parseCompressed(body: Buffer): RegisterBody {
  let data: Buffer;
  try {
    data = zlib.inflateSync(body, { maxOutputLength: INFLATED_MAX_BYTES });
  } catch (error) {
    throw new RegisterBodyError(`compressed register body does not inflate: ${(error as Error).message}`);
  }
  const reader = new ByteReader(data);
  const dataVersion = dataVersionFromJson(parseJson(reader.block('dataVersion'), DATA_VERSION_SHAPE), 'dataVersion');
  const topicCount = reader.int32('topic count');
  if (topicCount < 0 || topicCount > data.length / 4) throw new RegisterBodyError(`compressed register body claims ${topicCount} topics`);
  const topicConfigs: TopicConfig[] = [];
  for (let i = 0; i < topicCount; i++) topicConfigs.push(topicConfigFromText(reader.block(`topic ${i}`).toString('utf8'), i));
  reader.block('filterServerList');
  // A 5.x broker appends its topic queue mappings; the static-topic feature is not ours, so
  // they are skipped (their lengths are still checked by reading them).
  if (reader.remaining > 0) {
    const mappings = reader.int32('topic queue mapping count');
    if (mappings < 0 || mappings > reader.remaining / 4) throw new RegisterBodyError(`compressed register body claims ${mappings} topic queue mappings`);
    for (let i = 0; i < mappings; i++) reader.block(`topic queue mapping ${i}`);
  }
  return { topicConfigs, dataVersion };
}

/** TopicConfig.decode: "name read write perm filterType" plus, from 5.x, " attributesJson". */
function topicConfigFromText(text: string, index: number): TopicConfig {
  const parts = text.split(' ');
  const [topicName, read, write, perm, topicFilterType] = parts;
  const numbers = [read, write, perm].map((part) => (part !== undefined && /^[0-9]+$/.test(part) ? Number(part) : NaN));
  if (parts.length < 5 || topicName === undefined || topicName.length === 0 || topicFilterType === undefined || numbers.some((n) => !Number.isSafeInteger(n))) {
    throw new RegisterBodyError(`compressed topic config ${index} is ${JSON.stringify(text.slice(0, 80))}, expected "name read write perm filterType"`);
  }
  return {
    topicName,
    readQueueNums: numbers[0] as number,
    writeQueueNums: numbers[1] as number,
    perm: numbers[2] as number,
    topicFilterType,
    topicSysFlag: 0,
    order: false,
  };
}

class ByteReader {
  private at = 0;
  constructor(private readonly data: Buffer) {}

  get remaining(): number {
    return this.data.length - this.at;
  }

  int32(what: string): number {
    if (this.remaining < 4) throw new RegisterBodyError(`compressed register body ends inside the ${what}`);
    const value = this.data.readInt32BE(this.at);
    this.at += 4;
    return value;
  }

  block(what: string): Buffer {
    const length = this.int32(`length of the ${what}`);
    if (length < 0 || length > this.remaining) throw new RegisterBodyError(`compressed register body: the ${what} claims ${length} bytes, ${this.remaining} left`);
    const bytes = this.data.subarray(this.at, this.at + length);
    this.at += length;
    return bytes;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof SkippedContainer) && !(value instanceof Map);
}

/** The JSON RegisterBrokerBody a broker sends (what Java sends with compressedRegister=false). */
export function encodeRegisterBrokerBody(topicConfigs: readonly TopicConfig[], dataVersion: DataVersion): Buffer {
  const topicConfigTable = Object.fromEntries(topicConfigs.map((config) => [config.topicName, { ...config, attributes: {} }]));
  return Buffer.from(toFastjson({ filterServerList: [], topicConfigSerializeWrapper: { dataVersion, topicConfigTable } }, { bareNumericKeys: false }), 'utf8');
}
