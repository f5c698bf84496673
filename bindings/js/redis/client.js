// One interface over the two Redis clients users run: ioredis and node-redis
// (v4+, the `redis` package). Only what the store needs: EVALSHA with a
// NOSCRIPT reload, and a subscriber connection for release notifications.
//
// Invariant: a script is sent with EVALSHA; on NOSCRIPT (a restarted or
// flushed server) it is loaded with SCRIPT LOAD and the call retried once.

import { createHash } from 'node:crypto';

const sha1 = (src) => createHash('sha1').update(src).digest('hex');

/** A script: its source and SHA1. */
export function script(src) {
  return { src, sha: sha1(src) };
}

const isNoScript = (error) => String(error?.message ?? error).startsWith('NOSCRIPT');

/** Wrap `client` (ioredis or node-redis); throws naming what is missing. */
export function adapt(client) {
  if (client === null || typeof client !== 'object') {
    throw new TypeError('RedisStore: the first argument must be an ioredis or node-redis client');
  }
  if (typeof client.evalSha === 'function') return nodeRedis(client);
  if (typeof client.evalsha === 'function' && typeof client.duplicate === 'function') return ioredis(client);
  throw new TypeError('RedisStore: the client has neither evalsha (ioredis) nor evalSha (node-redis v4+)');
}

function ioredis(client) {
  return {
    kind: 'ioredis',
    async eval(s, keys, args) {
      try {
        return await client.evalsha(s.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!isNoScript(error)) throw error;
        await client.script('LOAD', s.src);
        return await client.evalsha(s.sha, keys.length, ...keys, ...args);
      }
    },
    /** Subscribe on a duplicate connection; `onEvent()` on each message, (re)connection and loss. */
    async subscribe(channel, onEvent) {
      const sub = client.duplicate();
      sub.on('error', () => {}); // counted by the store through its own calls
      sub.on('message', onEvent);
      sub.on('ready', onEvent);
      sub.on('close', onEvent); // the server went away: waiters retry and meet the policy
      await sub.subscribe(channel);
      return () => sub.disconnect();
    },
  };
}

function nodeRedis(client) {
  const str = (args) => args.map(String);
  return {
    kind: 'node-redis',
    async eval(s, keys, args) {
      try {
        return await client.evalSha(s.sha, { keys, arguments: str(args) });
      } catch (error) {
        if (!isNoScript(error)) throw error;
        await client.scriptLoad(s.src);
        return await client.evalSha(s.sha, { keys, arguments: str(args) });
      }
    },
    async subscribe(channel, onEvent) {
      const sub = client.duplicate();
      sub.on('error', onEvent); // the server went away: waiters retry and meet the policy
      sub.on('ready', onEvent);
      await sub.connect();
      await sub.subscribe(channel, onEvent);
      return () => (sub.destroy ? sub.destroy() : sub.disconnect());
    },
  };
}
