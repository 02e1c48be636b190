// How a POP delivery is shown to the 5.x client beyond toPbMessage (pop-messages.ts): a message
// read from one of the group's retry topics (pop-retry.ts) is shown as one of the topic asked
// (RocketMQ 5's popResponseReturnActualRetryTopic=false), and the delivery attempt counts the
// message's RECONSUMETIMES (5.x's proxy: reconsumeTimes + 1, the broker's revive adding 1 each
// time): a message a remoting consumer sent back once (RECONSUMETIMES 1) comes as attempt 2.
import type { StoredMessage } from '../broker/message-codec.js';
import { ATTACHED_COMMAND_PROPERTY } from '../broker/state/attached-command.js';
import type { PbMessage } from './messaging-proto.js';
import type { Receipt } from './pop-state.js';

/** Deliveries of the message so far, this one included. */
export function deliveryAttemptOf(message: StoredMessage, receipt: Receipt): number {
  return message.reconsumeTimes + receipt.attempt;
}

export function asDeliveredAs(message: PbMessage, topic: string, deliveryAttempt: number): PbMessage {
  // The broker's own attached command (a DLQ message's ack) is no user property.
  const { [ATTACHED_COMMAND_PROPERTY]: _attached, ...userProperties } = message.userProperties;
  return { ...message, topic: { ...message.topic, name: topic }, userProperties, systemProperties: { ...message.systemProperties, deliveryAttempt } };
}
