// A broker command carried by a stored message and applied in the same entry, so that a message
// and a state change happen together or not at all (one Raft entry: a crash or failover can
// never keep one without the other). Used by the POP dead-letter move (src/grpc/pop-service.ts):
// the %DLQ%<group> message carries the `ack dlq` of the receipt it ends.
//
// The command rides in the message's property ATTACHED_COMMAND_PROPERTY as JSON (JSON.stringify
// escapes every control character, so RocketMQ's \u0001/\u0002 property separators never occur
// in it). BrokerState.apply indexes the message, then applies the command exactly like a command
// entry at the same index (held while restoring from a compacted log, like a command entry).
// Only extension commands may be attached (topic, offset and checkpoint commands may not).
//
// Invariant: only the broker attaches commands. Every put goes through putMessages, which drops
// the property from a message that does not come with an `attachedCommand` of the broker's own
// (a producer, a send-back or a transaction re-put copying a stored message's properties), so a
// client can never inject state changes.
import { formatMessageProperties, parseMessageProperties } from '../message-codec.js';
import { type BrokerCommand, CommandFormatError, decodeCommand } from './commands.js';

export const ATTACHED_COMMAND_PROPERTY = 'DLEDGER_ATTACHED_COMMAND';

/** The properties to store: the caller's without any attached command, plus `command` when the broker attaches one. */
export function propertiesToStore(properties: string, command: BrokerCommand | undefined): string {
  if (command === undefined && !properties.includes(ATTACHED_COMMAND_PROPERTY)) return properties;
  const map = parseMessageProperties(properties);
  map.delete(ATTACHED_COMMAND_PROPERTY);
  if (command !== undefined) {
    if (command.type !== 'extension') throw new Error(`only extension commands may be attached to a message, not ${command.type}`);
    map.set(ATTACHED_COMMAND_PROPERTY, JSON.stringify(command));
  }
  return formatMessageProperties(map);
}

/** The command a stored message carries: null when none, a string (why) when it is not a valid attached command. */
export function attachedCommandOf(properties: ReadonlyMap<string, string>): BrokerCommand | string | null {
  const text = properties.get(ATTACHED_COMMAND_PROPERTY);
  if (text === undefined) return null;
  try {
    const command = decodeCommand(new TextEncoder().encode(text));
    return command.type === 'extension' ? command : `attached ${command.type} command refused (only extension commands may be attached)`;
  } catch (error) {
    if (!(error instanceof CommandFormatError)) throw error;
    return `attached command: ${error.message}`;
  }
}
