// QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33), RocketMQ's QueryMessageProcessor.
// QUERY_MESSAGE: the messages indexed under topic#key stored in [beginTimestamp, endTimestamp]
// (index-service.ts), at most maxNum (capped at 64, maxMsgsNumBatch; a UNIQ_KEY query,
// _UNIQUE_KEY_QUERY=true, asks defaultQueryMaxNum = 32), their stored bytes back to back in the
// body (within maxTransferBytesOnMessageInMemory), the index's last update in the header; none: QUERY_NOT_FOUND. As in Java the index matches
// by hash: the client keeps the messages whose KEYS or UNIQ_KEY equal the key.
// VIEW_MESSAGE_BY_ID: the stored message at a commit-log offset (the last 8 bytes of an offset
// message id), or SYSTEM_ERROR with "can not find message by the offset, N".
// Every member answers from its own applied log and index.
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import { optionalBoolean, requiredInteger, requiredString } from '../../remoting/ext-fields.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import type { IndexService } from '../store/index-service.js';

const MAX_MSGS_NUM_BATCH = 64;
const DEFAULT_QUERY_MAX_NUM = 32;

export function registerQueryProcessors(server: RemotingServer, context: BrokerContext, index: IndexService): void {
  server.registerHandler(RequestCode.QUERY_MESSAGE, (request) => Promise.resolve(queryMessage(context, index, request)));
  server.registerHandler(RequestCode.VIEW_MESSAGE_BY_ID, (request) => Promise.resolve(viewMessageById(context, request)));
}

function queryMessage(context: BrokerContext, index: IndexService, request: RemotingCommand): RemotingCommand {
  const topic = requiredString(request, 'topic');
  const key = requiredString(request, 'key');
  const asked = optionalBoolean(request, '_UNIQUE_KEY_QUERY') === true ? DEFAULT_QUERY_MAX_NUM : requiredInteger(request, 'maxNum');
  const beginMs = requiredInteger(request, 'beginTimestamp');
  const endMs = requiredInteger(request, 'endTimestamp');
  const maxNum = Math.max(0, Math.min(asked, MAX_MSGS_NUM_BATCH));
  const parts: Buffer[] = [];
  let bytes = 0;
  for (const offset of index.query(topic, key, maxNum, beginMs, endMs)) {
    // An entry below the log start (retention) or past the applied tail has no message: skipped.
    const message = context.commitLog.readByPhysicalOffset(offset);
    if (message === null) continue;
    // Invariant: the body stays within maxTransferBytesOnMessageInMemory (one message at least).
    if (parts.length > 0 && bytes + message.byteLength > context.config.maxTransferBytesOnMessageInMemory) break;
    parts.push(Buffer.from(message.buffer, message.byteOffset, message.byteLength));
    bytes += message.byteLength;
  }
  const last = index.lastUpdate();
  const extFields = { indexLastUpdateTimestamp: last.timestampMs, indexLastUpdatePhyoffset: last.phyOffset };
  if (parts.length === 0) return createResponse(request, ResponseCode.QUERY_NOT_FOUND, { remark: 'can not find message, maybe time range not correct', extFields });
  return createResponse(request, ResponseCode.SUCCESS, { extFields, body: Buffer.concat(parts) });
}

function viewMessageById(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const offset = requiredInteger(request, 'offset');
  const message = offset < 0 ? null : context.commitLog.readByPhysicalOffset(offset);
  if (message === null) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `can not find message by the offset, ${offset}` });
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(message.buffer, message.byteOffset, message.byteLength) });
}
