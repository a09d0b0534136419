export { SshDriver } from './driver.js';
export type { SshDriverConfig, SshLog } from './driver.js';
export { SshConnection, SshConnectError, DEFAULT_TIMEOUTS } from './connection.js';
export type { Timeouts } from './connection.js';
export { HostLockedError, lockPath } from './host-lock.js';
export { shellQuote, quoteWord } from './quote.js';
export { fingerprint, verifyHostKey, parseKnownHosts, hostsMatch, knownHostsName } from './known-hosts.js';
export { resolveHost } from './ssh-config.js';
export { parseFacts, missingPrerequisites, describeFacts } from './facts.js';
