// The presets: settings that tell one story each. Pure data; `settings.js`
// validates them like anything typed into the form.
//
// Settings: hosts (names), weights ({ host: share of the requests, default 1 }),
// requests, window (limitedAsCompleted's concurrency: how far ahead of the
// results it pulls), concurrency and perKey (limiter caps, '' = none),
// rate and perKeyRate (quotas like "30/s burst 10, 100/5s", '' = none;
// concurrency may be "auto …": an adaptive cap, see settings.js),
// retries (attempts after the first).

export const PRESETS = [
  {
    id: 'slow-host',
    title: 'One slow host does not block the others',
    story:
      'Per-host caps keep "slow" (~700 ms) to its own 3 permits: cdn, api and knee finish within seconds while slow ' +
      'drips along at about 4 req/s, and knee stays at its capacity knee. Empty the per-host cap and run it again: ' +
      'slow collects most of the 12 global permits and everyone waits behind it.',
    settings: {
      hosts: ['cdn', 'api', 'slow', 'knee'],
      weights: { slow: 1, cdn: 3, api: 3, knee: 3 },
      requests: 400,
      window: 400,
      concurrency: 12,
      perKey: 3,
      rate: '',
      perKeyRate: '',
      retries: 2,
    },
  },
  {
    id: 'retry-after',
    title: 'Retry-After cools the whole host',
    story:
      '"limited" answers 429 with Retry-After: 1 above 25 req/s. A 429 pauses the whole host in the limiter: ' +
      'every queued request for it waits the second out (red bands) while cdn and api go on, then the host eases ' +
      'back in (one probe, then its rate doubles every second) instead of every waiter firing at once. The host ' +
      'counts what reaches it during its cooldowns: only what was already on the wire when the 429 left.',
    settings: {
      hosts: ['cdn', 'api', 'limited'],
      weights: { limited: 2 },
      requests: 180,
      window: 180,
      concurrency: 10,
      perKey: 4,
      rate: '',
      perKeyRate: '',
      retries: 4,
    },
  },
  {
    id: 'quota',
    title: 'A per-host quota under the server\'s limit: no 429s',
    story:
      'The same hosts with a per-host quota of 20/s (burst 5), below limited\'s 25/s: requests wait in the limiter ' +
      'instead of being refused, no 429, no retry, and each host is admitted at a steady 20/s.',
    settings: {
      hosts: ['api', 'limited'],
      weights: {},
      requests: 240,
      window: 240,
      concurrency: 12,
      perKey: 4,
      rate: '',
      perKeyRate: '20/s burst 5',
      retries: 2,
    },
  },
  {
    id: 'bursts',
    title: 'Bursts vs a steady quota',
    story:
      'Two global quotas at once: 30/s with a burst of 30, and 100 per 5 s with a burst of 40. The first lets 30 ' +
      'requests go at once, then 30/s; after about a second the second one takes over and holds the run to a ' +
      'steady 20/s. The dashed lines are the quotas\' long-run rates.',
    settings: {
      hosts: ['cdn', 'api'],
      weights: {},
      requests: 240,
      window: 240,
      concurrency: 12,
      perKey: 6,
      rate: '30/s burst 30, 100/5s burst 40',
      perKeyRate: '',
      retries: 2,
    },
  },
  {
    id: 'adaptive',
    title: 'An adaptive cap finds the host\'s capacity',
    story:
      'No number to tune: the global concurrency is "auto" (gradient), starting from 1. "shifting" serves ~40 ms up ' +
      'to its capacity and slower past it, and its capacity changes while it runs: 5, then 2 after 6 s, then 5 ' +
      'again. The limit (blue) doubles until latency rises, settles at the capacity (dashed), halves when the ' +
      'host gets slower and climbs back when it recovers; minRTT stays the no-queue base. Try "auto aimd": it ' +
      'ignores latency and only backs off on the 503s the host sheds past twice its capacity.',
    settings: {
      hosts: ['shifting'],
      weights: {},
      requests: 1200,
      window: 100,
      concurrency: 'auto initial 1 max 40',
      perKey: '',
      rate: '',
      perKeyRate: '',
      retries: 2,
    },
  },
  {
    id: 'flat-memory',
    title: 'A 100,000-request run in flat memory',
    story:
      'limitedAsCompleted pulls the URLs lazily from a generator and never more than 1,000 ahead of the results; ' +
      'nothing is kept per request (the charts are fixed-size rings). Watch the JS heap stay flat while the ' +
      'count climbs. (Weights 10:1 match what cdn and api can take: a host slower than its share of the ' +
      'URLs would fill the window with its own requests.)',
    settings: {
      hosts: ['cdn', 'api'],
      weights: { cdn: 10, api: 1 },
      requests: 100000,
      window: 1000,
      concurrency: 16,
      perKey: 6,
      rate: '',
      perKeyRate: '',
      retries: 2,
    },
  },
];
