// plain_acl.yml as RocketMQ 4.9 reads it (PlainPermissionManager.load + PlainAccessResource.build):
//   globalWhiteRemoteAddresses: [pattern, ...]     requests from these pass with no signature
//   accounts:
//     - accessKey / secretKey                      both longer than 6 characters (RocketMQ's rule)
//       whiteRemoteAddress: pattern               from here this account's requests pass unsigned
//       admin: true|false                          admin-only request codes need it
//       defaultTopicPerm / defaultGroupPerm        DENY | PUB | SUB | PUB|SUB (absent: DENY)
//       topicPerms: [topic=PERM, ...]              overrides the default for that topic
//       groupPerms: [group=PERM, ...]              kept as %RETRY%group, as RocketMQ does
//   dataVersion: ...                               written by RocketMQ's tools; ignored
// Parsed with the `yaml` package's failsafe schema, so every scalar stays the text the operator
// wrote (secretKey: 12345678 is a string, not a number). Where RocketMQ silently ignores or
// defaults (an unknown key, a misspelt permission, a repeated accessKey) we refuse the file with
// every problem listed as file:line, so a typo cannot quietly open or close access.
import fs from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { parsePerm, Perm } from './permission.js';
import { AddressPatternError, compileAddressPattern, type AddressMatcher } from './remote-address.js';

/** RocketMQ's prefix for a consumer group's retry topic: group permissions are kept under it. */
export const RETRY_GROUP_TOPIC_PREFIX = '%RETRY%';
/** AclConstants.ACCESS_KEY_MIN_LENGTH / SECRET_KEY_MIN_LENGTH: keys must be longer than this. */
const KEY_MIN_LENGTH_EXCLUSIVE = 6;

export interface AclAccount {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly whiteRemoteAddress: AddressMatcher;
  readonly admin: boolean;
  readonly defaultTopicPerm: number;
  readonly defaultGroupPerm: number;
  /** topic → perm and %RETRY%group → perm, from topicPerms and groupPerms. */
  readonly resourcePerms: ReadonlyMap<string, number>;
}

export interface AclRules {
  readonly file: string;
  readonly globalWhiteRemoteAddresses: readonly AddressMatcher[];
  readonly accounts: ReadonlyMap<string, AclAccount>;
}

export class AclFileError extends Error {
  override name = 'AclFileError';
  constructor(readonly file: string, readonly problems: readonly string[]) {
    super(`invalid ACL file ${file}:\n  - ${problems.join('\n  - ')}`);
  }
}

const ACCOUNT_KEYS = new Set(['accessKey', 'secretKey', 'whiteRemoteAddress', 'admin', 'defaultTopicPerm', 'defaultGroupPerm', 'topicPerms', 'groupPerms']);
const TOP_KEYS = new Set(['globalWhiteRemoteAddresses', 'accounts', 'dataVersion']);

export function retryTopicOf(group: string): string {
  return `${RETRY_GROUP_TOPIC_PREFIX}${group}`;
}

/** Read and validate an ACL file; throws AclFileError listing every problem. */
export function loadAclFile(file: string): AclRules {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new AclFileError(file, [`cannot read it: ${(error as Error).message}`]);
  }
  return parseAclText(text, file);
}

export function parseAclText(text: string, file: string): AclRules {
  const lines = new LineCounter();
  const doc = parseDocument(text, { schema: 'failsafe', lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: string[] = [];
  const at = (node: Node | null | undefined): string => {
    const offset = node?.range?.[0];
    return offset === undefined ? file : `${file}:${lines.linePos(offset).line}`;
  };
  for (const error of doc.errors) problems.push(`${file}:${lines.linePos(error.pos[0]).line}: YAML: ${error.message.split('\n')[0]}`);
  if (problems.length > 0) throw new AclFileError(file, problems);

  const globalWhiteRemoteAddresses: AddressMatcher[] = [];
  const accounts = new Map<string, AclAccount>();
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
    // An empty file (RocketMQ creates one when it is missing): no whitelist, no accounts.
    return { file, globalWhiteRemoteAddresses, accounts };
  }
  if (!isMap(root)) throw new AclFileError(file, [`${at(root)}: the file must be a mapping with globalWhiteRemoteAddresses and accounts`]);

  const scalarText = (node: unknown): string | null => {
    if (node === null || node === undefined) return null;
    if (isScalar(node)) return node.value === null || node.value === undefined ? null : String(node.value);
    return null;
  };
  /** A list of strings; an empty value is an empty list. */
  const stringList = (node: unknown, what: string): Array<{ text: string; node: Node }> => {
    if (node === null || node === undefined || (isScalar(node) && (node.value === null || node.value === ''))) return [];
    if (!isSeq(node)) {
      problems.push(`${at(node as Node)}: ${what} must be a list (- item per line)`);
      return [];
    }
    const out: Array<{ text: string; node: Node }> = [];
    for (const item of node.items) {
      if (!isScalar(item)) problems.push(`${at(item as Node)}: each entry of ${what} must be a single value`);
      else if (item.value !== null && String(item.value).trim() !== '') out.push({ text: String(item.value).trim(), node: item });
    }
    return out;
  };
  const pattern = (text: string, node: Node): AddressMatcher => {
    try {
      return compileAddressPattern(text);
    } catch (error) {
      if (!(error instanceof AddressPatternError)) throw error;
      problems.push(`${at(node)}: ${error.message}`);
      return compileAddressPattern('');
    }
  };

  for (const pair of root.items) {
    const key = scalarText(pair.key);
    const keyNode = pair.key as Node;
    if (key === null || !TOP_KEYS.has(key)) {
      problems.push(`${at(keyNode)}: unknown key "${key}" (known: ${[...TOP_KEYS].join(', ')})`);
      continue;
    }
    if (key === 'globalWhiteRemoteAddresses') {
      for (const entry of stringList(pair.value, key)) globalWhiteRemoteAddresses.push(pattern(entry.text, entry.node));
    } else if (key === 'accounts') {
      const value = pair.value;
      if (value === null || (isScalar(value) && (value.value === null || value.value === ''))) continue;
      if (!isSeq(value)) {
        problems.push(`${at(value as Node)}: accounts must be a list of accounts (- accessKey: ...)`);
        continue;
      }
      for (const item of value.items) {
        const account = parseAccount(item as Node);
        if (account === null) continue;
        if (accounts.has(account.accessKey)) problems.push(`${at(item as Node)}: accessKey "${account.accessKey}" appears twice`);
        else accounts.set(account.accessKey, account);
      }
    }
  }

  function parseAccount(node: Node): AclAccount | null {
    if (!isMap(node)) {
      problems.push(`${at(node)}: an account must be a mapping (accessKey: ..., secretKey: ...)`);
      return null;
    }
    const fields = new Map<string, { value: unknown; node: Node }>();
    for (const pair of node.items) {
      const key = scalarText(pair.key);
      if (key === null || !ACCOUNT_KEYS.has(key)) {
        problems.push(`${at(pair.key as Node)}: unknown account key "${key}" (known: ${[...ACCOUNT_KEYS].join(', ')})`);
        continue;
      }
      fields.set(key, { value: pair.value, node: (pair.value ?? pair.key) as Node });
    }
    const text = (key: string): string | null => {
      const field = fields.get(key);
      if (field === undefined) return null;
      if (field.value !== null && !isScalar(field.value)) {
        problems.push(`${at(field.node)}: ${key} must be a single value`);
        return null;
      }
      const value = scalarText(field.value);
      return value === null || value.trim() === '' ? null : value.trim();
    };
    const where = (key: string): string => at(fields.get(key)?.node ?? node);
    const before = problems.length;
    const accessKey = text('accessKey');
    const secretKey = text('secretKey');
    if (accessKey === null || accessKey.length <= KEY_MIN_LENGTH_EXCLUSIVE) problems.push(`${where('accessKey')}: accessKey is required and must be longer than ${KEY_MIN_LENGTH_EXCLUSIVE} characters`);
    if (secretKey === null || secretKey.length <= KEY_MIN_LENGTH_EXCLUSIVE) problems.push(`${where('secretKey')}: secretKey${accessKey === null ? '' : ` of ${accessKey}`} is required and must be longer than ${KEY_MIN_LENGTH_EXCLUSIVE} characters`);
    const adminText = text('admin');
    let admin = false;
    if (adminText !== null) {
      if (!/^(true|false)$/i.test(adminText)) problems.push(`${where('admin')}: admin must be true or false, not "${adminText}"`);
      admin = adminText.toLowerCase() === 'true';
    }
    const perm = (key: string): number => {
      const value = text(key);
      if (value === null) return Perm.DENY;
      const parsed = parsePerm(value);
      if (parsed === null) problems.push(`${where(key)}: ${key} "${value}" must be DENY, PUB, SUB or PUB|SUB`);
      return parsed ?? Perm.DENY;
    };
    const defaultTopicPerm = perm('defaultTopicPerm');
    const defaultGroupPerm = perm('defaultGroupPerm');
    const resourcePerms = new Map<string, number>();
    for (const [key, isGroup] of [['groupPerms', true], ['topicPerms', false]] as const) {
      for (const entry of stringList(fields.get(key)?.value, key)) {
        const parts = entry.text.split('=').map((p) => p.trim()).filter((p) => p !== '');
        const parsed = parts.length === 2 ? parsePerm(parts[1] as string) : null;
        if (parsed === null) {
          problems.push(`${at(entry.node)}: ${key} entry "${entry.text}" must be name=DENY|PUB|SUB|PUB|SUB`);
          continue;
        }
        resourcePerms.set(isGroup ? retryTopicOf(parts[0] as string) : (parts[0] as string), parsed);
      }
    }
    const whiteText = text('whiteRemoteAddress');
    const whiteRemoteAddress = whiteText === null ? compileAddressPattern('') : pattern(whiteText, fields.get('whiteRemoteAddress')?.node ?? node);
    if (problems.length > before || accessKey === null || secretKey === null) return null;
    return { accessKey, secretKey, whiteRemoteAddress, admin, defaultTopicPerm, defaultGroupPerm, resourcePerms };
  }

  if (problems.length > 0) throw new AclFileError(file, problems);
  return { file, globalWhiteRemoteAddresses, accounts };
}
