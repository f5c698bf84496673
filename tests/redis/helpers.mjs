// A real redis-server per test file: started on a free 127.0.0.1 port with no
// persistence, stopped after. `redisServer()` returns undefined (and the
// caller skips with a message) only when redis-server is not installed —
// scripts/setup.sh installs it.
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';

export const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
export const SKIP = haveRedis ? false : 'redis-server is not installed (run scripts/setup.sh)';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function listening(port) {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.on('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class RedisServer {
  static async start() {
    // A port another test's server took between freePort and the bind makes
    // this server exit: try another port.
    for (let attempt = 0; attempt < 5; attempt++) {
      const s = new RedisServer(await freePort());
      if (await s.trySpawn()) return s;
    }
    throw new Error('redis-server did not start on any of 5 free ports');
  }

  constructor(port) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}/`;
  }

  async spawn() {
    if (!(await this.trySpawn())) throw new Error(`redis-server did not start again on ${this.port}`);
  }

  /**
   * Start the server on `this.port`; false when it exited instead (the port
   * was taken). The port answering is not enough: it must be this child.
   */
  async trySpawn() {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    this.child = child;
    const deadline = Date.now() + 5000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) return false;
      if (await listening(this.port)) {
        await sleep(20); // another server answering while ours exits on the bind error
        return child.exitCode === null && child.signalCode === null;
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${this.port}`);
      await sleep(5);
    }
  }

  /** SIGKILL: every key gone, as after a crash. */
  async stop() {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  async restart() {
    await this.stop();
    await this.spawn();
  }

  signal(sig) {
    this.child.kill(sig);
  }
}

/** The two clients the store supports, connected to `url`. */
export const CLIENTS = {
  async ioredis(url) {
    const { default: Redis } = await import('ioredis');
    const c = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    c.on('error', () => {});
    return { client: c, close: () => c.disconnect() };
  },
  async 'node-redis'(url) {
    const { createClient } = await import('redis');
    const c = createClient({ url, socket: { reconnectStrategy: () => 50 } });
    c.on('error', () => {});
    await c.connect();
    return { client: c, close: () => c.destroy?.() ?? c.disconnect() };
  },
};

export async function dbsize(url) {
  const { default: Redis } = await import('ioredis');
  const c = new Redis(url);
  try {
    return await c.dbsize();
  } finally {
    c.disconnect();
  }
}

export async function exists(url, key) {
  const { default: Redis } = await import('ioredis');
  const c = new Redis(url);
  try {
    return await c.exists(key);
  } finally {
    c.disconnect();
  }
}
