// RocketMQ's answers for a put that did not succeed (SendMessageProcessor.handlePutMessageResult),
// remarks included: operators search logs and client errors for them.
import { ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import { PutMessageError } from '../dledger-commit-log.js';

export const NOT_MASTER_REMARK = "service not available now. It may be caused by one of the following reasons: the broker's disk is full, messages are put to the slave, message store has been shut down, etc.";

/** The response for an error thrown by a put or a command; rethrows anything else. */
export function putFailureResponse(request: RemotingCommand, error: unknown): RemotingCommand {
  if (!(error instanceof PutMessageError)) throw error;
  const leader = error.leaderId === null ? '' : ` (leader: ${error.leaderId})`;
  switch (error.status) {
    case 'SERVICE_NOT_AVAILABLE':
      return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, { remark: `${NOT_MASTER_REMARK} ${error.message}${leader}` });
    case 'IN_SYNC_REPLICAS_NOT_ENOUGH':
      return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `in-sync replicas not enough: ${error.message}` });
    case 'OS_PAGE_CACHE_BUSY':
      return createResponse(request, ResponseCode.SYSTEM_BUSY, { remark: `[PC_SYNCHRONIZED]broker busy, start flow control for a while: ${error.message}` });
    case 'MESSAGE_ILLEGAL':
      return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, { remark: error.message });
    case 'UNKNOWN_ERROR':
      return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `UNKNOWN_ERROR: ${error.message}` });
  }
}
