// A durable sample: draws a lucky number and notes the time, fetches a URL, sleeps, posts the
// result to another URL and prints it.
//
// Payload (every field optional):
// - sleep_ms: how long to sleep (default 10). A sleep of 1 s or more first commits the calls
//   made so far, so a node that dies during it leaves them to the next attempt.
// - fail_first: fail the first attempt after drawing; the retry replays the journal and
//   reports the same number and time.
// - diverge: ask for something else on a retry than on the first attempt (a bug a durable
//   workflow must not have): the retry fails with a nondeterminism error.
// - url: fetched (GET) before the sleep; post_url: the result is posted there after it (an
//   idempotent request). Only in the build with `--use HTTP=1` (lucky_http.wasm): without it
//   the module does not import flotilla.call.
//
// Output: {"lucky": hex, "now_ms": n, "time": unix seconds, "attempt": n, "fetched"?: {...},
// "posted"?: status}.

import * as flotilla from "../assembly/index";

function readStdin(): string {
  const chunks = new Array<ArrayBuffer>();
  let total = 0;
  while (true) {
    const chunk = new ArrayBuffer(4096);
    const n = process.stdin.read(chunk);
    if (n <= 0) break;
    chunks.push(chunk.slice(0, n));
    total += n;
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < chunks.length; i++) {
    all.set(Uint8Array.wrap(chunks[i]), at);
    at += chunks[i].byteLength;
  }
  return String.UTF8.decode(all.buffer);
}

function fail(code: i32, why: string): void {
  process.stderr.write(why + "\n");
  process.exit(code);
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    out += (b < 0x10 ? "0" : "") + b.toString(16);
  }
  return out;
}

function main(): void {
  const payload = flotilla.parseJson(readStdin());
  if (payload === null) {
    fail(2, "the payload is not JSON");
    return;
  }
  const attempt: i64 = process.env.has("FLOTILLA_ATTEMPT") ? I64.parseInt(process.env.get("FLOTILLA_ATTEMPT")) : 1;

  if (payload.getBool("diverge")) {
    // Branches on something outside the journal: the attempt number.
    if (attempt > 1) flotilla.randomBytes(1);
    else flotilla.nowMs();
    fail(1, "diverge: failing the first attempt");
    return;
  }

  const lucky = hex(flotilla.randomBytes(8));
  const at = flotilla.nowMs();
  const time = Date.now() / 1000; // WASI clock_time_get: journaled too

  let extra = "";
  if (isDefined(HTTP)) {
    const url = payload.getString("url");
    if (url.length > 0) {
      const page = flotilla.http.get(url).send();
      if (page.failed) {
        fail(1, "GET " + url + ": " + flotilla.describe(page.error));
        return;
      }
      extra += ', "fetched": {"status": ' + page.status.toString()
        + ', "length": ' + String.UTF8.byteLength(page.body).toString()
        + ', "head": ' + flotilla.quote(page.body.substring(0, 100)) + "}";
    }
  }

  flotilla.sleep(payload.getInt("sleep_ms", 10));
  flotilla.info("drew " + lucky + " at " + at.toString());

  if (attempt == 1 && payload.getBool("fail_first")) {
    fail(1, "failing attempt 1 after drawing " + lucky);
    return;
  }

  let result = '{"lucky": "' + lucky + '", "now_ms": ' + at.toString() + ', "time": ' + time.toString()
    + ', "attempt": ' + attempt.toString() + extra;

  if (isDefined(HTTP)) {
    const postUrl = payload.getString("post_url");
    if (postUrl.length > 0) {
      const posted = flotilla.http.post(postUrl)
        .header("content-type", "application/json")
        .body(result + "}")
        .idempotent()
        .send();
      if (posted.failed) {
        fail(1, "POST " + postUrl + ": " + flotilla.describe(posted.error));
        return;
      }
      result += ', "posted": ' + posted.status.toString();
    }
  }

  process.stdout.write(result + "}\n");
}

main();
