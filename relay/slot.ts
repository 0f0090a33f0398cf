/**
 * The relay's logical replication slot (`slot.name` in relay/connector.json): the outbox purge
 * deletes only rows this slot has streamed.
 */
import connectorFile from "./connector.json" with { type: "json" };

export const RELAY_SLOT: string = connectorFile.config["slot.name"];
