// VIEW_MESSAGE_BY_ID (33): the stored message at a commit-log offset (the last 8 bytes of an
// offset message id), what `mqadmin queryMsgById` sends after decoding the id. RocketMQ's
// QueryMessageProcessor.viewMessageById answers the stored bytes, or SYSTEM_ERROR with "can not
// find message by the offset, N". Every member answers from its own applied log.
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import { requiredInteger } from '../../remoting/ext-fields.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';

export function registerQueryProcessors(server: RemotingServer, context: BrokerContext): void {
  server.registerHandler(RequestCode.VIEW_MESSAGE_BY_ID, (request) => Promise.resolve(viewMessageById(context, request)));
}

function viewMessageById(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const offset = requiredInteger(request, 'offset');
  const message = offset < 0 ? null : context.commitLog.readByPhysicalOffset(offset);
  if (message === null) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `can not find message by the offset, ${offset}` });
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(message.buffer, message.byteOffset, message.byteLength) });
}
