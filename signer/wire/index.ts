/**
 * The hsmd wire codec (CLN v25.12.1 `hsmd/hsmd_wire.csv`): one import for the message table,
 * the typed encode/decode functions, the field types and the reader/writer underneath.
 */
export * from './errors.js';
export * from './reader.js';
export * from './writer.js';
export * from './codec.js';
export * from './fields.js';
export * from './tx-fields.js';
export * from './messages.js';
export { hsmdDevPreinitTlvs, hsmdInitTlvs, hsmdInitReplyV4Tlvs } from './messages-node.js';
