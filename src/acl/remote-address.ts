// plain_acl.yml address patterns (RocketMQ's RemoteAddressStrategyFactory), compiled to a
// net.BlockList so matching is one lookup:
//   192.168.0.1            one address (IPv6 too, in any spelling)
//   192.168.0.1,10.0.0.2   a list of addresses
//   192.168.0.{1,2,10}     a list in the last octet
//   192.168.0.*  192.168.*.*  192.168.1.1-100  192.168.1-5.*   a range in one octet, every later
//                          octet '*' (RocketMQ ignores the later octets; we refuse anything but
//                          '*' there rather than silently widen what the operator wrote)
//   *  *.*.*.*             every address
//   empty                  no address (an account without whiteRemoteAddress)
// IPv6 ranges are not supported (RocketMQ has them): such a pattern is refused with the reason.
import net from 'node:net';

export class AddressPatternError extends Error {
  override name = 'AddressPatternError';
}

export interface AddressMatcher {
  /** The pattern as written. */
  readonly pattern: string;
  matches(host: string): boolean;
}

const NOTHING: AddressMatcher = { pattern: '', matches: () => false };

/** Compile one pattern; throws AddressPatternError saying what is wrong with it. */
export function compileAddressPattern(raw: string): AddressMatcher {
  const pattern = raw.trim();
  if (pattern === '') return NOTHING;
  if (pattern === '*' || pattern === '*.*.*.*' || pattern === '*:*:*:*:*:*:*:*') return { pattern, matches: () => true };
  const list = new net.BlockList();
  if (pattern.endsWith('}')) {
    const open = pattern.indexOf('{');
    const prefix = open < 0 ? '' : pattern.slice(0, open);
    if (open < 0 || !/^([0-9]{1,3}\.){3}$/.test(prefix)) throw new AddressPatternError(`"${pattern}": a {a,b,...} list must be the last octet of an IPv4 address, e.g. 192.168.0.{1,2}`);
    for (const item of pattern.slice(open + 1, -1).split(',')) addOne(list, `${prefix}${item.trim()}`, pattern);
  } else if (pattern.includes(',')) {
    for (const item of pattern.split(',')) addOne(list, item.trim(), pattern);
  } else if (pattern.includes('*') || (pattern.includes('-') && !pattern.includes(':'))) {
    addRange(list, pattern);
  } else {
    addOne(list, pattern, pattern);
  }
  return { pattern, matches: (host) => matchHost(list, host) };
}

function matchHost(list: net.BlockList, host: string): boolean {
  const family = net.isIP(host);
  if (family === 0) return false;
  return list.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

function addOne(list: net.BlockList, address: string, pattern: string): void {
  const family = net.isIP(address);
  if (family === 0) throw new AddressPatternError(`"${pattern}": "${address}" is not an IPv4 or IPv6 address`);
  list.addAddress(address, family === 4 ? 'ipv4' : 'ipv6');
}

function addRange(list: net.BlockList, pattern: string): void {
  if (pattern.includes(':')) throw new AddressPatternError(`"${pattern}": IPv6 ranges are not supported; list the addresses`);
  const octets = pattern.split('.').map((o) => o.trim());
  if (octets.length !== 4) throw new AddressPatternError(`"${pattern}": an IPv4 pattern has 4 octets`);
  const at = octets.findIndex((o) => o === '*' || o.includes('-'));
  if (at <= 0) throw new AddressPatternError(`"${pattern}": the first octet cannot be a range (use * for every address)`);
  const head = octets.slice(0, at).map((o) => octet(o, pattern));
  const range = octets[at] as string;
  let start = 0;
  let end = 255;
  if (range !== '*') {
    const match = /^([0-9]{1,3})-([0-9]{1,3})$/.exec(range);
    if (match === null) throw new AddressPatternError(`"${pattern}": "${range}" is not * or a range like 1-100`);
    start = octet(match[1] as string, pattern);
    end = octet(match[2] as string, pattern);
    if (start > end) throw new AddressPatternError(`"${pattern}": the range ${range} is empty`);
  }
  for (const later of octets.slice(at + 1)) {
    if (later !== '*') throw new AddressPatternError(`"${pattern}": after the range octet every octet must be * (RocketMQ would ignore "${later}")`);
  }
  const low = [...head, start, ...octets.slice(at + 1).map(() => 0)].join('.');
  const high = [...head, end, ...octets.slice(at + 1).map(() => 255)].join('.');
  list.addRange(low, high, 'ipv4');
}

function octet(text: string, pattern: string): number {
  if (!/^[0-9]{1,3}$/.test(text) || Number(text) > 255) throw new AddressPatternError(`"${pattern}": "${text}" is not an octet 0-255`);
  return Number(text);
}

/** The host part of a connection's "host:port" remote address. */
export function hostOf(remoteAddress: string): string {
  const colon = remoteAddress.lastIndexOf(':');
  return colon < 0 ? remoteAddress : remoteAddress.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
}
