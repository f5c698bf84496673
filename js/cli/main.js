// `weir` command dispatch: fetch, serve, demo. Bad arguments exit 2 with a
// message naming the argument.
import { readFileSync } from 'node:fs';
import { UsageError, parseDemoArgs, parseFetchArgs, parseServeArgs } from './args.js';

/** The package's version (the native build prints its crate's, kept equal). */
const VERSION = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

export const USAGE = `usage: weir <command> [options]

  weir fetch [FILE|-]   fetch URLs (one a line; blank and # lines skipped), NDJSON rows on stdout
      --concurrency N       in flight at most (default 100); 'auto': found from the answers (up to 1,000)
      --per-host N          in flight per host:port at most (default unlimited); 'auto': found per host (up to 1,000)
      --rate 20/s           global rate; repeatable (--rate 20/s --rate 600/min); units /ms /s /min /h;
                            bursts of up to the count by default, or say so: --rate 20/s,burst=5
      --per-host-rate 5/s   rate per host; repeatable; ,burst=N as for --rate
      --retries N           retries on 429/503/network errors (default 2; Retry-After honoured)
      --timeout 20s         per attempt, from admission to the end of the body (default 30s;
                            time queued for a host or a rate is not counted; 'none': no timeout,
                            and no AbortSignal per request, the fastest setting)
      --method M            HTTP method (default GET)
      --header 'K: V'       request header; repeatable
      --save DIR            write bodies to DIR (file names derived safely from the URL)
      --output FILE         NDJSON rows to FILE instead of stdout
      --progress MODE       auto (bar on a terminal, lines otherwise), bar, lines, none
      --redis URL           fleet mode: the caps, rates and Retry-After pauses above are shared by
                            every weir fetch using this Redis (redis://host:6379/0) and prefix;
                            exit 2 if it cannot be reached at start
      --redis-prefix P      the namespace of the shared limits (default weir:)
      --redis-policy MODE   when Redis fails mid-run: closed (the request fails, its row says why;
                            the default), open (sent without the shared limits), local (sent under
                            this process's own limits)
  weir serve [--port P] [--delay 0-300ms] [--capacity N] [--429-rate R]
                        the local target server ("Hello, World!" after a random delay), 127.0.0.1 only
  weir demo [--requests N] [--concurrency L] [--delay 0-300ms] [--server child|in-process]
            [--target URL] [--json]
                        the seed scenario (100,000 requests, 1,000 in flight) against a local server
                        (or the server at --target)
  weir --version        the version
`;

/** Run `weir` with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv, io = {}) {
  const stderr = io.stderr ?? process.stderr;
  const stdout = io.stdout ?? process.stdout;
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'fetch': {
        const opts = parseFetchArgs(rest);
        if (opts.help) return void stdout.write(USAGE) ?? 0;
        const { runFetch } = await import('./fetch.js');
        return await runFetch(opts, io);
      }
      case 'serve': {
        const opts = parseServeArgs(rest);
        if (opts.help) return void stdout.write(USAGE) ?? 0;
        const { runServe } = await import('./serve.js');
        return await runServe(opts, io);
      }
      case 'demo': {
        const opts = parseDemoArgs(rest);
        if (opts.help) return void stdout.write(USAGE) ?? 0;
        const { runDemo } = await import('./demo.js');
        return await runDemo(opts, io);
      }
      case '--version':
      case '-V':
        stdout.write(`weir ${VERSION}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`${command}: unknown command (expected fetch, serve or demo)`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      stderr.write(`weir: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
