// Genesys' own JavaScript SDK (purecloud-platform-client-v2), unmodified,
// against gcusage-stub built from this checkout: every usage operation, run
// as an application runs it, and every value the SDK parsed compared with
// the rows the stub's own code computes for the same request (the oracle,
// usagetest/compat/rows). Run it with `make test-sdk-js`, or `npm test`
// here after `npm ci`.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import platformClient from 'purecloud-platform-client-v2';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = resolve(here, '../../..');
// A fixed seed and day make every answer, the summary's and the jobs'
// included, the same on every run.
const SEED = '7';
const TODAY = '2025-06-30';

// The stub is on loopback: a proxy of the environment must not get its
// traffic (axios, under the SDK, honours these variables).
for (const v of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']) {
  delete process.env[v];
}

const client = platformClient.ApiClient.instance;
const usageApi = new platformClient.UsageApi();
const oauthApi = new platformClient.OAuthApi();

let stub, oracle, clientId;

before(async () => {
  // The stub and the oracle, built from this checkout. go build relinks
  // them only when a source changed since the last run.
  const bin = join(here, 'node_modules', '.cache', 'gcusage');
  mkdirSync(bin, { recursive: true });
  execFileSync(process.env.GO || 'go', ['build', '-o', bin + '/', './cmd/gcusage-stub', './usagetest/compat/rows'],
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  stub = await startStub(join(bin, 'gcusage-stub'), ['-addr', '127.0.0.1:0', '-seed', SEED, '-today', TODAY, '-polls', '1']);
  oracle = startOracle(join(bin, 'rows'), ['-seed', SEED, '-today', TODAY]);

  // What docs/testing.md tells a JavaScript developer to do: setEnvironment
  // always builds https URLs, the gateway takes http and a port.
  const url = new URL(stub.apiURL);
  client.setGateway({ host: url.hostname, port: Number(url.port), protocol: 'http' });
  // The same data as by default, with the HTTP status beside it: the 202s
  // of running queries are part of what is checked.
  client.setReturnExtendedResponses(true);
}, { timeout: 180_000 });

after(async () => {
  stub?.process.kill('SIGTERM');
  oracle?.process.stdin.end();
  await Promise.all([stub, oracle].filter(Boolean).map(({ process: p }) =>
    p.exitCode !== null || p.signalCode !== null ? null : new Promise((done) => p.once('exit', done))));
});

test('login with the client credentials the stub prints', async () => {
  const start = Date.now();
  const auth = await client.loginClientCredentialsGrant(stub.clientId, stub.clientSecret);
  const day = 86_400_000; // the stub's expires_in, read by the SDK
  assert.ok(auth.accessToken, 'no access token');
  assert.ok(auth.tokenExpiryTime >= start + day && auth.tokenExpiryTime <= Date.now() + day,
    `the token expires at ${auth.tokenExpiryTimeString}, not 24 h after the login`);
  await assert.rejects(client.loginClientCredentialsGrant(stub.clientId, 'not-the-secret'), 'a wrong secret logged in');
  await client.loginClientCredentialsGrant(stub.clientId, stub.clientSecret);
});

test('the organization query, by day, with an interval without a zone', async () => {
  // The zone-less date-times of Genesys' docs, and an empty metrics list:
  // all the counters.
  const body = { interval: '2024-01-01T00:00:00/2024-01-15T00:00:00', granularity: 'Day',
    groupBy: ['OAuthClientId', 'HttpMethod'], metrics: [] };
  const started = await usageApi.postUsageQuery(body);
  assert.equal(started.status, 202);
  const id = started.body.executionId;
  assert.equal(started.body.resultsUri, `/api/v2/usage/query/${id}/results`);
  const rows = await poll((opts) => usageApi.getUsageQueryExecutionIdResults(id, opts));
  const want = await oracle.ask({ op: 'query', body });
  compareRows('org query', rows, want);
  assert.ok(rows.every((r) => r.date), 'a row of a query by day has no date');

  // An application takes the OAuth client of the next calls from here.
  clientId = rows[0].clientId;
  assert.ok((await oracle.ask({ op: 'clients' })).includes(clientId), `${clientId} is not one of the stub's clients`);
});

test('the organization query, totals per template without a granularity', async () => {
  const body = { interval: '2024-01/2024-03', groupBy: ['TemplateUri'], metrics: ['Requests', 'Status429'] };
  const id = (await usageApi.postUsageQuery(body)).body.executionId;
  const rows = await poll((opts) => usageApi.getUsageQueryExecutionIdResults(id, opts));
  compareRows('org totals', rows, await oracle.ask({ op: 'query', body }));
  assert.ok(rows.every((r) => !('date' in r) && r.clientId === '' && r.status200 === 0),
    'totals carry a date, a client, or a counter not asked for');
});

test('the comparison fails on rows of another query', async () => {
  const body = { interval: '2024-01-01T00:00:00/2024-01-15T00:00:00', granularity: 'Day', groupBy: ['OAuthClientId', 'HttpMethod'] };
  const id = (await usageApi.postUsageQuery(body)).body.executionId;
  const rows = await poll((opts) => usageApi.getUsageQueryExecutionIdResults(id, opts));
  const other = await oracle.ask({ op: 'query', body: { ...body, interval: '2024-01-02T00:00:00/2024-01-16T00:00:00' } });
  assert.throws(() => compareRows('shifted by a day', rows, other), assert.AssertionError);
});

for (const [name, api] of [['UsageApi', usageApi], ['OAuthApi', oauthApi]]) {
  test(`one OAuth client's query and summary through ${name}`, async () => {
    assert.ok(clientId, 'the organization query found no client');
    const body = { interval: '2024-02-01/2024-02-10', granularity: 'Week', groupBy: ['TemplateUri', 'HttpMethod'] };
    const started = await api.postOauthClientUsageQuery(clientId, body);
    assert.equal(started.status, 202);
    const id = started.body.executionId;
    assert.equal(started.body.resultsUri, `/api/v2/oauth/clients/${clientId}/usage/query/results/${id}`);
    const rows = await poll((opts) => api.getOauthClientUsageQueryResult(id, clientId, opts));
    compareRows(`${name} client query`, rows, await oracle.ask({ op: 'clientQuery', clientId, body }));
    assert.ok(rows.every((r) => r.clientId === clientId), 'a row of another client');

    // days is a string in the SDK, as in the API's spec.
    const summary = await api.getOauthClientUsageSummary(clientId, { days: '30' });
    assert.equal(summary.status, 202);
    const sid = summary.body.executionId;
    const days = await poll((opts) => api.getOauthClientUsageQueryResult(sid, clientId, opts));
    compareRows(`${name} summary`, days, await oracle.ask({ op: 'summary', clientId, days: '30' }));
    const last = days.map((r) => r.date).sort().at(-1);
    assert.ok(last < `${TODAY}T`, `the summary counts ${last}, today or later`);
  });
}

test('simple search, page after page by its cursors', async () => {
  // Empty filter lists, as Genesys' docs write them: no filter.
  const body = { interval: '2024-03-01/2024-03-02', metrics: ['Date', 'ClientName', 'HttpMethod', 'TemplateUri', 'Status200', 'Status429'],
    httpMethods: ['GET', 'POST'], oauthClientNames: [], templateUris: [] };
  const started = await usageApi.postUsageSimplesearch(body);
  assert.equal(started.status, 202);
  const id = started.body.executionId;
  const pageSize = 25;
  let page = await poll((opts) => usageApi.getUsageSimplesearchExecutionIdResults(id, { ...opts, pageSize }), true);
  const records = [...page.results];
  let pages = 1;
  while (page.cursors?.after) {
    assert.ok(page.results.length === pageSize, `page ${pages} has ${page.results.length} records but a next cursor`);
    const res = await usageApi.getUsageSimplesearchExecutionIdResults(id, { pageSize, after: page.cursors.after });
    assert.equal(res.status, 200);
    page = res.body;
    assert.equal(page.queryStatus, 'Complete');
    records.push(...page.results);
    assert.ok(++pages <= 100, 'more than 100 pages');
  }
  assert.ok(pages > 1, `one page only: the cursors were not exercised`);
  compareRows('simple search', records, await oracle.ask({ op: 'search', body }));
  assert.ok(records.every((r) => ['GET', 'POST'].includes(r.httpMethod) && r.clientId === '' && r.requests === 0),
    'a record of another method, or with fields no search metric names');
});

test('the organization usage query job: 202 while it runs, then pages by nextUri', async () => {
  const body = { interval: '2025-06-01/2025-06-14', granularity: 'Day', groupBy: ['OauthClientId', 'OauthClientName', 'HttpMethod'],
    httpMethods: [], templateUris: [] };
  const started = await usageApi.postUsageAggregatesQueryJobs(body);
  assert.equal(started.status, 202);
  const jobId = started.body.id;
  const entities = await jobPages((opts) => usageApi.getUsageAggregatesQueryJob(jobId, opts));
  compareEntities('org job', entities, await oracle.ask({ op: 'jobs', body }));
  assert.ok(entities.every((e) => e.oauthClient?.id && e.oauthClient?.name), 'an entity without its OAuth client');
});

test("one OAuth client's usage query job", async () => {
  assert.ok(clientId, 'the organization query found no client');
  const body = { interval: '2025-05-01/2025-06-29', granularity: 'Week', groupBy: ['TemplateUri', 'HttpMethod'], organizationIds: [] };
  const started = await usageApi.postUsageClientClientIdAggregatesQueryJobs(clientId, body);
  assert.equal(started.status, 202);
  const jobId = started.body.id;
  const entities = await jobPages((opts) => usageApi.getUsageClientClientIdAggregatesQueryJob(clientId, jobId, opts));
  compareEntities('client job', entities, await oracle.ask({ op: 'clientJobs', clientId, body }));
});

test('enum values keep their exact case: granularity "day" is refused with the allowed values', async () => {
  // The SDK lets it through; whether the real API accepts lower case is
  // unverified, so the stub stays strict.
  await assert.rejects(usageApi.postUsageQuery({ interval: '2024-01-01/2024-01-07', granularity: 'day' }), (err) => {
    assert.equal(err.status, 400);
    assert.equal(err.body.code, 'invalid.value');
    assert.match(err.body.message, /\[day\].*granularity.*Day, Week, Month/);
    return true;
  });
});

test("the JavaScript recipe of docs/testing.md works as written", async () => {
  const doc = readFileSync(join(root, 'docs/testing.md'), 'utf8');
  const recipe = /### Genesys' JavaScript SDK[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(recipe?.includes('port: 8765'), 'docs/testing.md has no JavaScript recipe for the stub on port 8765');
  const port = new URL(stub.apiURL).port;
  const out = await new Promise((ok, fail) => {
    execFile(process.execPath, ['-e', recipe.replace('port: 8765', `port: ${port}`)], { cwd: here, timeout: 60_000 },
      (err, stdout, stderr) => (err ? fail(new Error(`the recipe failed: ${err.message}\n${stderr}`)) : ok(stdout)));
  });
  const want = await oracle.ask({ op: 'query', body: { interval: '2024-01-01/2024-01-07', granularity: 'Day', groupBy: ['OAuthClientId'] } });
  assert.ok(want.length > 0);
  assert.deepEqual(out.trim().split('\n').sort(), want.map((r) => `${r.date} ${r.clientName} ${r.requests}`).sort());
});

// poll reads the results of a legacy execution until it is Complete, as an
// application does (without its pause between polls, which the stub does
// not need), checking that it was Running first. It returns the rows, or
// the whole first page when page is set.
async function poll(get, page = false) {
  const statuses = [];
  for (let i = 0; i < 10; i++) {
    const res = await get({});
    assert.equal(res.status, 200);
    statuses.push(res.body.queryStatus);
    if (res.body.queryStatus === 'Running') {
      assert.deepEqual(Object.keys(res.body), ['queryStatus'], 'a running answer holds more than its status');
      continue;
    }
    assert.deepEqual(statuses, ['Running', 'Complete']);
    assert.ok(Array.isArray(res.body.results), 'a complete answer without results');
    return page ? res.body : res.body.results;
  }
  assert.fail(`still ${statuses.at(-1)} after 10 polls`);
}

// jobPages polls a job until it Succeeded, checking the 202s while it was
// Queued and Running, then follows nextUri (its after cursor, which the
// SDK's getter takes) to the last page.
async function jobPages(get) {
  const pageSize = 40;
  const seen = [];
  let res;
  for (let i = 0; i < 10; i++) {
    res = await get({ pageSize });
    seen.push(`${res.status} ${res.body.queryStatus}`);
    if (res.body.queryStatus === 'Succeeded') break;
  }
  assert.deepEqual(seen, ['202 Queued', '202 Running', '200 Succeeded']);
  const entities = [...res.body.entities];
  let pages = 1;
  while (res.body.nextUri) {
    assert.equal(res.body.entities.length, pageSize, `page ${pages} is short but has a nextUri`);
    const after = new URL(res.body.nextUri, stub.apiURL).searchParams.get('after');
    assert.ok(after, `nextUri ${res.body.nextUri} has no after cursor`);
    res = await get({ pageSize, after });
    assert.equal(res.status, 200);
    assert.equal(res.body.queryStatus, 'Succeeded');
    entities.push(...res.body.entities);
    assert.ok(++pages <= 100, 'more than 100 pages');
  }
  assert.ok(pages > 1, 'one page only: nextUri was not exercised');
  return entities;
}

// What is compared of the legacy queries' rows and of the jobs' entities:
// their counters, their date as an application reads it, their allowed
// HTTP methods, and the whole of one as a comparable value.
const ROWS = {
  noun: 'row',
  counters: ['status200', 'status300', 'status400', 'status500', 'status429', 'requests'],
  // An instant, or null for totals, which have no date.
  date(r) {
    if (r.date === undefined) return null;
    const t = new Date(r.date);
    assert.ok(!Number.isNaN(t.getTime()), `date ${r.date} does not parse`);
    return t.toISOString();
  },
  methods: ['', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'CONNECT', 'OPTIONS', 'TRACE'],
  whole: (r) => canonical({ ...r, date: ROWS.date(r) }),
};
const ENTITIES = {
  noun: 'entity',
  counters: ['requestCount', 'status200', 'status300', 'status400', 'status429', 'status500'],
  date(e) {
    assert.match(e.date, /^\d{4}-\d{2}-\d{2}$/, `date ${e.date} is not yyyy-MM-dd`);
    return e.date;
  },
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'],
  whole: canonical,
};

// compare checks what the SDK parsed against the stub's own answer: the
// number of items, the sum of each counter, the dates, the HTTP methods,
// then every item, field by field, in any order (the API's rows are
// unsorted).
function compare(kind, name, got, want) {
  assert.ok(want.length > 0, `${name}: the stub's own answer has no ${kind.noun}, which would prove nothing`);
  assert.equal(got.length, want.length, `${name}: number of ${kind.noun} items`);
  for (const f of kind.counters) {
    for (const r of got) assert.ok(Number.isSafeInteger(r[f]) && r[f] >= 0, `${name}: ${f} ${r[f]} is no count`);
    assert.equal(sum(got, f), sum(want, f), `${name}: sum of ${f}`);
  }
  assert.ok(kind.counters.some((f) => sum(want, f) > 0), `${name}: every counter of the stub's own answer is 0`);
  assert.deepEqual(distinct(got, kind.date), distinct(want, kind.date), `${name}: dates`);
  for (const r of got) assert.ok(kind.methods.includes(r.httpMethod), `${name}: httpMethod ${r.httpMethod}`);
  assert.deepEqual(distinct(got, (r) => r.httpMethod), distinct(want, (r) => r.httpMethod), `${name}: HTTP methods`);
  assert.deepEqual(got.map(kind.whole).sort(), want.map(kind.whole).sort(), `${name}: ${kind.noun} by ${kind.noun}`);
}

const compareRows = (name, got, want) => compare(ROWS, name, got, want);
const compareEntities = (name, got, want) => compare(ENTITIES, name, got, want);

// canonical is v as JSON with its keys sorted, at every depth.
function canonical(v) {
  return JSON.stringify(v, (_, x) => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
}

function sum(rows, f) { return rows.reduce((n, r) => n + (r[f] ?? 0), 0); }
function distinct(rows, f) { return [...new Set(rows.map(f))].sort(); }

// startStub runs the stub and reads the URL and credentials it prints.
function startStub(path, args) {
  const p = spawn(path, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('gcusage-stub printed no API URL within 30 s')), 30_000);
    p.once('error', fail);
    p.once('exit', (code) => fail(new Error(`gcusage-stub exited (${code}) before serving`)));
    const seen = {};
    createInterface({ input: p.stdout }).on('line', (line) => {
      const m = /^\s*(API URL|Client ID|Client secret):\s+(\S+)/.exec(line);
      if (m) seen[m[1]] = m[2];
      if (seen['API URL'] && seen['Client ID'] && seen['Client secret']) {
        clearTimeout(timer);
        ok({ process: p, apiURL: seen['API URL'], clientId: seen['Client ID'], clientSecret: seen['Client secret'] });
      }
    });
  });
}

// startOracle runs the oracle, which answers one line per request line.
function startOracle(path, args) {
  const p = spawn(path, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = [];
  createInterface({ input: p.stdout }).on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  p.once('exit', (code) => { for (const w of waiting.splice(0)) w({ error: `the oracle exited (${code})` }); });
  return {
    process: p,
    ask(req) {
      return new Promise((ok, fail) => {
        waiting.push((a) => (a.error ? fail(new Error(`oracle: ${a.error}`)) : ok(a.rows)));
        p.stdin.write(JSON.stringify(req) + '\n');
      });
    },
  };
}
