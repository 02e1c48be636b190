// DefaultMessageStore.getMessage for the DLedger commit log: which messages a pull at
// (topic, queueId, queueOffset) gets, with RocketMQ's status and next offset, reading the consume
// queue and then the stored bytes. Tag filtering as the Java broker's ExpressionMessageFilter
// .isMatchedByConsumeQueue: a unit whose tag hash code is not in the subscription's code set is
// skipped without reading the commit log; only matching messages count towards maxNums and
// maxBytes; when none matched, NO_MATCHED_MESSAGE with nextBeginOffset past every unit scanned
// (the pull answers PULL_RETRY_IMMEDIATELY and the client pulls again from there). Hash codes
// can collide: clients check the tag itself again (ali-ons, the Java client).
import type { BrokerCommitLog } from './dledger-commit-log.js';
import { javaStringHashCode } from './message-codec.js';

export type GetMessageStatus = 'FOUND' | 'NO_MESSAGE_IN_QUEUE' | 'OFFSET_TOO_SMALL' | 'OFFSET_OVERFLOW_ONE' | 'OFFSET_OVERFLOW_BADLY' | 'NO_MATCHED_MESSAGE';

export interface GetMessageResult {
  readonly status: GetMessageStatus;
  readonly messages: Uint8Array[];
  readonly nextBeginOffset: number;
  readonly minOffset: number;
  readonly maxOffset: number;
}

/** Consume-queue units scanned per pull at most when filtering skips messages (Java: 16000 bytes / 20). */
const MAX_UNITS_SCANNED = 800;

/**
 * The tag codes a subscription expression accepts; null = every message. FilterAPI
 * .buildSubscriptionData: null, empty or exactly "*" subscribes to all; otherwise the tags
 * between "||", trimmed, empty ones dropped ("TagA || *" is TagA and a tag named "*", as in Java).
 */
export function tagCodesOf(subscription: string | null): Set<number> | null {
  if (subscription === null || subscription === '' || subscription === '*') return null;
  const tags = subscription.split('||').map((tag) => tag.trim()).filter((tag) => tag.length > 0);
  return new Set(tags.map(javaStringHashCode));
}

export function getMessages(
  commitLog: BrokerCommitLog,
  topic: string,
  queueId: number,
  queueOffset: number,
  maxNums: number,
  maxBytes: number,
  tagCodes: Set<number> | null,
): GetMessageResult {
  const queue = commitLog.state.consumeQueue(topic, queueId);
  const minOffset = queue?.minOffset ?? 0;
  const maxOffset = queue?.maxOffset ?? 0;
  const result = (status: GetMessageStatus, nextBeginOffset: number, messages: Uint8Array[] = []): GetMessageResult => ({ status, messages, nextBeginOffset, minOffset, maxOffset });
  if (queue === null || maxOffset === 0) return result('NO_MESSAGE_IN_QUEUE', 0);
  if (queueOffset < minOffset) return result('OFFSET_TOO_SMALL', minOffset);
  if (queueOffset === maxOffset) return result('OFFSET_OVERFLOW_ONE', queueOffset);
  if (queueOffset > maxOffset) return result('OFFSET_OVERFLOW_BADLY', maxOffset);
  const messages: Uint8Array[] = [];
  let bytes = 0;
  let offset = queueOffset;
  const scanEnd = Math.min(maxOffset, queueOffset + Math.max(MAX_UNITS_SCANNED, maxNums));
  for (; offset < scanEnd && messages.length < maxNums; offset++) {
    const unit = queue.get(offset);
    if (unit === null) break;
    if (tagCodes !== null && !tagCodes.has(unit.tagsCode)) continue;
    if (messages.length > 0 && bytes + unit.size > maxBytes) break;
    const [message] = commitLog.readMessages(topic, queueId, offset, 1, Number.MAX_SAFE_INTEGER);
    if (message === undefined) break;
    messages.push(message);
    bytes += message.length;
  }
  return result(messages.length > 0 ? 'FOUND' : 'NO_MATCHED_MESSAGE', offset, messages);
}
